#!/usr/bin/python3
"""Digest benchmark: scoring and rendering the yearly review for 1,000 clients with
1,000,000 stored signals (issue 4's target: <= 1 s wall, <= 64 MB peak RSS).

    digest_bench.py --binary build/redflagd [--runs 3] [--clients 1000]
                    [--messages 400000] [--signals 1000000] [--text-bytes 1000] [--seed 42]

1. The database. `redflagd -c CONF stats --json` on a config whose database does not exist
   yet creates it with the binary's own schema (it migrates a new file); then Python's
   sqlite3 fills it in one transaction: CLIENTS clients (owner_wrote = 1), MESSAGES messages
   in 2025 in threads of 1-5 messages (alternating in/out, client chosen Zipf-like, so a few
   clients have tens of thousands of messages and most have a few dozen), and SIGNALS
   signal rows drawn from the catalogue's ids with ~60-character excerpts (time signals on
   the matching direction). Rows lie in the order a first sync writes them: INBOX by date,
   then Sent by date, each message's signals in message order. Every message stores TEXT_BYTES of text and a body twice that
   size, as sync would: rows of realistic size, so reading message rows costs what it would
   on a real mailbox. It is cached under build/bench/digest/ keyed by these parameters,
   this script and the binary's schema, so reruns only measure.
2. One untimed `digest --period 2025 --preview` (page cache warm, as for every run after it),
   then RUNS timed ones. Wall time and peak RSS (GNU time's ru_maxrss, see bench.py's
   measure()) per run; the output must be a MIME message.
3. Best and worst of the runs, and PASS/FAIL lines: wall judged on the best run (other work
   on the machine only ever adds time), RSS on the largest.

A measurement, not a test: exits 0 whatever the numbers (1 only when it cannot run).
Standard library only, Debian's /usr/bin/python3.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "rig"))
sys.path.insert(0, HERE)

import bench  # noqa: E402  (measure: wall time and honest peak RSS of a command)
import rig  # noqa: E402

WALL_TARGET_S = 1.0
RSS_TARGET_KB = 64 * 1024
PERIOD = "2025"
OWNER = "mette@studio.dk"

# Catalogue ids (conf/signals.conf) and how often each is drawn. The time signals sit on
# the matching direction: received_after_hours on client mail, sent_after_hours on the
# owner's.
SIGNALS = [("rush", 15), ("discount", 8), ("payment", 8), ("after_hours", 8),
           ("scope_creep", 8), ("cancellation", 6), ("praise", 15), ("referral", 5),
           ("received_after_hours", 17), ("sent_after_hours", 10)]
WEIGHT = {"rush": 1.0, "discount": 1.5, "payment": 2.0, "after_hours": 1.5,
          "scope_creep": 1.5, "cancellation": 1.0, "praise": 1.0, "referral": 2.0,
          "received_after_hours": 0.5, "sent_after_hours": 1.0}
WORDS = ("we need the files by tomorrow morning please could you also send the new "
         "version of the poster before friday the price seems high compared to last year "
         "thank you so much for the wonderful work everyone loves it my sister would like "
         "to hire you too sorry the invoice is late again can we move the meeting").split()
NAMES_A = ["Nordlys", "Bergmann", "Brightside", "Kestrel", "Skovgaard", "Havbryg", "Elbufer",
           "Oakridge", "Mølleå", "Löwenzahn", "Foxglove", "Ærø", "Weißdorn", "Thistle"]
NAMES_B = ["ApS", "GmbH", "Ltd", "A/S", "Events", "Media", "Bryghus", "Logistik", "Studio"]
YEAR_START = int(datetime(2025, 1, 2, tzinfo=timezone.utc).timestamp())
YEAR_END = int(datetime(2025, 12, 30, tzinfo=timezone.utc).timestamp())


def log(msg):
    print(msg, flush=True)


def write_config(d, db):
    """A config for the binary: the database, the owner, a digest; the account is never
    contacted (nothing here syncs)."""
    fake = SimpleNamespace(password="unused", imap_port=rig.free_port(), user="owner",
                           ca_file=None, other_ca_file=None)
    return rig.redflagd_config(
        os.path.join(d, "bench.conf"), fake, db=db, owner=OWNER,
        extra='digest = { to = "owner@studio.test"; every = "year"; '
              'at = "01-15 08:00"; language = "en"; };\n')


def create_schema(binary, d):
    """Makes the binary create its database in d; returns (config, db, schema text)."""
    db = os.path.join(d, "redflagd.db")
    conf = write_config(d, db)
    p = subprocess.run([binary, "-c", conf, "stats", "--json"], capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0 or not os.path.exists(db):
        raise RuntimeError(f"stats --json did not create the database:\n{p.stderr}")
    con = sqlite3.connect(db)
    try:
        schema = "\n".join(r[0] for r in con.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"))
        schema += f"\nuser_version={con.execute('PRAGMA user_version').fetchone()[0]}"
    finally:
        con.close()
    return conf, db, schema


def zipf_cum_weights(n, s=1.0):
    """Cumulative Zipf weights (rank i gets 1 / i**s), for random.choices(cum_weights=)."""
    out, total = [], 0.0
    for i in range(n):
        total += 1.0 / (i + 1) ** s
        out.append(total)
    return out


def cumulative(weights):
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def fill(db, args):
    """Clients, messages and signals in one transaction; returns counts."""
    rng = random.Random(args.seed)
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous = OFF")
    now = int(time.time())
    clients = []
    for i in range(args.clients):
        name = f"{rng.choice(NAMES_A)} {rng.choice(NAMES_B)} {i:04d}"
        clients.append((i + 1, name, f"c{i:04d}.example"))
    cum = zipf_cum_weights(args.clients)
    # Threads of 1-5 messages until the message count is met; dates rise in a thread.
    drawn = []  # (direction, date, client, thread)
    thread = 0
    while len(drawn) < args.messages:
        thread += 1
        c = rng.choices(clients, cum_weights=cum)[0]
        length = min(rng.choices([1, 2, 3, 4, 5], [60, 26, 9, 4, 1])[0],
                     args.messages - len(drawn))
        t = rng.randrange(YEAR_START, YEAR_END - 10 * 86400)
        for k in range(length):
            drawn.append((1 if k % 2 == 0 else 2, t, c[0], thread))
            t += rng.randrange(600, 3 * 86400)
    # Row order as a first sync leaves it: INBOX by arrival, then Sent by date.
    drawn.sort()
    msgs = [(i + 1, cid, direction, date, th)  # (id, client, direction, date, thread)
            for i, (direction, date, cid, th) in enumerate(drawn)]
    del drawn
    inbound = [m[0] for m in msgs if m[2] == 1]
    outbound = [m[0] for m in msgs if m[2] == 2]
    ids, sw = zip(*SIGNALS)
    sig_cum = cumulative(sw)
    excerpts = [" ".join(rng.sample(WORDS, 11))[:60] for _ in range(5000)]
    # What sync stores per message: the author's words (text) and the whole decoded body
    # (the words plus the quoted mail they answer). Rows this size fill a page each, so a
    # query that touches message rows pays what it would on a real mailbox.
    texts = []
    for _ in range(500 if args.text_bytes else 0):
        words = []
        while sum(len(w) + 1 for w in words) < args.text_bytes:
            words.append(rng.choice(WORDS))
        t = " ".join(words)[:args.text_bytes]
        texts.append((t, t + "\n\n> " + t.replace(" the ", "\n> the ")))

    def message_rows():
        uid = {1: 0, 2: 0}
        for mid, cid, direction, date, th in msgs:
            uid[direction] += 1
            dom = clients[cid - 1][2]
            peer = f"contact@{dom}"
            text, body = texts[mid % len(texts)] if texts else (None, None)
            yield ("main", "INBOX" if direction == 1 else "Sent", 1, uid[direction], 2000,
                   f"<m{mid}@{dom if direction == 1 else 'studio.dk'}>", f"k{mid}",
                   f"t{th}", date, 3600, direction,
                   peer if direction == 1 else OWNER, peer if direction == 2 else OWNER,
                   peer, cid, f"Project update {th}", text, body, "en")

    # Sync stores a message's signals right after the message: signal rows in message order.
    sigs = []
    for _ in range(args.signals):
        sig = rng.choices(ids, cum_weights=sig_cum)[0]
        pool = outbound if sig == "sent_after_hours" else inbound
        sigs.append((pool[rng.randrange(len(pool))], sig))
    sigs.sort()

    def signal_rows():
        for mid, sig in sigs:
            yield (mid, sig, f"en.{sig}.bench", WEIGHT[sig], rng.choice(excerpts))

    t0 = time.monotonic()
    con.execute("BEGIN")
    con.executemany("INSERT INTO clients(id, name, configured, owner_wrote, created_at)"
                    " VALUES(?, ?, 0, 1, ?)", ((c[0], c[1], now) for c in clients))
    con.executemany("INSERT INTO messages(account, mailbox, uidvalidity, uid, size,"
                    " message_id, dedup_key, thread_id, date, tz_offset, direction,"
                    " from_addr, rcpt, counterparty, client_id, subject, text, body, lang)"
                    " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    message_rows())
    # A signal row carries its message's date and subject, as store_signals_set() writes it.
    con.executemany("INSERT INTO signals(message_id, signal, rule, weight, excerpt, date,"
                    " subject) SELECT ?1, ?2, ?3, ?4, ?5, date, subject FROM messages"
                    " WHERE id = ?1", signal_rows())
    # ... and each message the summary of its signals that the period index covers.
    con.execute("UPDATE messages SET signals = (SELECT group_concat(s.signal || ':' || s.weight,"
                " ',') FROM signals s WHERE s.message_id = messages.id)")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return {"clients": args.clients, "messages": len(msgs), "threads": thread,
            "text_bytes": args.text_bytes,
            "signals": args.signals, "fill_s": round(time.monotonic() - t0, 1)}


def cached_db(binary, args):
    """(config, db, counts) for these parameters, building the database when absent."""
    root = os.path.join(args.workdir, "digest")
    os.makedirs(root, exist_ok=True)
    probe = os.path.join(root, f"schema-probe-{os.getpid()}")
    shutil.rmtree(probe, ignore_errors=True)
    os.makedirs(probe)
    _, _, schema = create_schema(binary, probe)
    shutil.rmtree(probe, ignore_errors=True)
    with open(__file__, "rb") as f:
        key = hashlib.sha256(f.read() + schema.encode() + json.dumps(
            [args.clients, args.messages, args.signals, args.seed,
             args.text_bytes]).encode()).hexdigest()[:16]
    d = os.path.join(root, f"{args.clients}-{args.signals}-{key}")
    done = os.path.join(d, "counts.json")
    if os.path.exists(done):
        with open(done) as f:
            counts = json.load(f)
        # The config names a throwaway port; rewrite it, the database stays.
        return write_config(d, os.path.join(d, "redflagd.db")), \
            os.path.join(d, "redflagd.db"), counts
    # One cached database at a time (each is hundreds of MB): drop other parameters'
    # finished ones. One still being built (no counts.json) may be another run's: kept.
    for old in os.listdir(root):
        if os.path.exists(os.path.join(root, old, "counts.json")):
            shutil.rmtree(os.path.join(root, old), ignore_errors=True)
    shutil.rmtree(d, ignore_errors=True)  # an interrupted build of these parameters
    os.makedirs(d)
    log(f"digest_bench: building {args.clients} clients, {args.messages} messages, "
        f"{args.signals} signals into {d} ...")
    conf, db, _ = create_schema(binary, d)
    counts = fill(db, args)
    counts["db_mb"] = round(os.path.getsize(db) / 1e6, 1)
    with open(done + ".tmp", "w") as f:
        json.dump(counts, f)
    os.rename(done + ".tmp", done)  # written last: a half-built cache is rebuilt
    log(f"digest_bench: built in {counts['fill_s']} s, {counts['db_mb']} MB")
    return conf, db, counts


def preview(binary, conf, out_path):
    """One timed preview; returns a result dict."""
    if os.path.exists(out_path):
        os.unlink(out_path)
    status, wall, rss, tree = bench.measure(
        [binary, "-c", conf, "digest", "--period", PERIOD, "--preview"], out_path,
        timeout=300)
    with open(out_path, "rb") as f:
        out = f.read()
    ok = status == 0 and b"MIME-Version: 1.0" in out and b"multipart/alternative" in out
    last = [ln for ln in out.decode(errors="replace").splitlines() if ln.strip()][-1:]
    note = "ok" if ok else f"FAILED: exit {status}: {' '.join(last)[:200]}"
    return dict(wall=wall, rss=max(rss, tree), ok=ok, note=note, size=len(out))


def main():
    ap = argparse.ArgumentParser(description="redflagd digest benchmark")
    ap.add_argument("--binary", default="build/redflagd")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=400000)
    ap.add_argument("--signals", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--text-bytes", type=int, default=1000,
                    help="size of each message's stored text; its body holds it twice "
                         "(0: no text, the smallest possible rows)")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        print(f"digest_bench: {binary} is missing; run make first", file=sys.stderr)
        return 1
    if args.runs < 1 or args.clients < 1 or args.messages < 2 or args.signals < 1 \
            or args.text_bytes < 0:
        ap.error("--runs, --clients, --signals must be positive, --messages at least 2, "
                 "--text-bytes not negative")
    args.workdir = os.path.abspath(args.workdir)
    t0 = time.monotonic()
    load0 = os.getloadavg()
    try:
        conf, db, counts = cached_db(binary, args)
    except (RuntimeError, OSError, sqlite3.Error, subprocess.SubprocessError) as e:
        print(f"digest_bench: cannot build the database: {e}", file=sys.stderr)
        return 1
    # Per process: a concurrent run on the same cached database must not unlink it.
    out_path = os.path.join(os.path.dirname(db), f"preview-{os.getpid()}.eml")
    log(f"\ndigest_bench: {counts['clients']} clients, {counts['messages']} messages in "
        f"{counts['threads']} threads, {counts['signals']} signals, "
        f"{counts.get('text_bytes', 0)} bytes of text per message ({counts['db_mb']} MB)")
    warm = preview(binary, conf, out_path)
    log(f"  warm-up  {warm['wall']:6.2f} s  {warm['rss']:8d} KB  {warm['note']}")
    results = []
    for i in range(1, args.runs + 1):
        r = preview(binary, conf, out_path)
        results.append(r)
        log(f"  run {i}    {r['wall']:6.2f} s  {r['rss']:8d} KB  {r['size']} bytes  "
            f"{r['note']}")
    for f in (out_path, out_path + ".rss"):
        if os.path.exists(f):
            os.unlink(f)
    good = [r for r in results if r["ok"]]
    log("\nsummary (digest --period 2025 --preview, page cache warm)")
    if not good:
        log("  every run FAILED; see above")
        log(f"  PASS/FAIL wall    FAIL  no successful run (target <= {WALL_TARGET_S:.1f} s)")
        log("  PASS/FAIL RSS     FAIL  no successful run (target <= 64 MB)")
        return 0
    walls = [r["wall"] for r in good]
    rss = [r["rss"] for r in good]
    log(f"  wall              best {min(walls):.2f} s, worst {max(walls):.2f} s "
        f"({len(good)}/{len(results)} runs ok)")
    log(f"  peak RSS          best {min(rss)} KB, worst {max(rss)} KB")
    log(f"  message           {good[0]['size']} bytes")
    log(f"  PASS/FAIL wall    {'PASS' if min(walls) <= WALL_TARGET_S else 'FAIL'}  "
        f"best {min(walls):.2f} s <= {WALL_TARGET_S:.1f} s")
    log(f"  PASS/FAIL RSS     {'PASS' if max(rss) <= RSS_TARGET_KB else 'FAIL'}  "
        f"worst {max(rss)} KB <= {RSS_TARGET_KB} KB (64 MB)")
    load1 = os.getloadavg()
    log(f"  machine           {os.cpu_count()} CPUs, load average {load0[0]:.2f} before, "
        f"{load1[0]:.2f} after")
    log(f"\ndigest_bench: done in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
