#!/usr/bin/python3
"""`make bench`: redflagd's first import against mbsync pulling the same mailbox.

See tests/bench/README.md for how to read the output. In short, per mailbox size:

  1. the mailbox comes from genmail.py (cached under build/bench/cache/, keyed by a hash of
     genmail.py and its arguments), hard-linked into a throwaway Dovecot (tests/rig);
  2. one untimed mbsync run and one untimed redflagd run warm Dovecot's index and cache,
     so neither tool pays for the server's first scan;
  3. N rounds (--runs) alternate `redflagd -c CONF sync --once` into a fresh database and
     `mbsync` into a fresh maildir; each run's wall time and peak RSS (wait4 ru_maxrss) are
     recorded, and each run is checked (row count / file count == messages generated).

The benchmark is measured, not a test: it prints PASS/FAIL against the targets and exits 0
unless the harness itself could not run. Standard library only, Debian's /usr/bin/python3.
"""

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "rig"))
sys.path.insert(0, HERE)

import genmail  # noqa: E402
import rig  # noqa: E402

RSS_TARGET_KB = 32 * 1024


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- the mailbox cache

def cached_mailbox(cache_root, seed, messages, senders, attach_share):
    """Path of a generated Maildir for these arguments, generating it when absent.
    Returns (maildir, counts)."""
    with open(genmail.__file__, "rb") as f:
        key = hashlib.sha256(f.read() + json.dumps(
            [seed, messages, senders, attach_share]).encode()).hexdigest()[:16]
    d = os.path.join(cache_root, f"{messages}-{key}")
    done = os.path.join(d, "counts.json")
    if os.path.exists(done):
        with open(done) as f:
            return os.path.join(d, "Maildir"), json.load(f)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    t = time.monotonic()
    log(f"bench: generating {messages} messages (seed {seed}) into {d} ...")
    counts = genmail.generate(os.path.join(d, "Maildir"), seed, messages, senders,
                              attach_share)
    with open(done + ".tmp", "w") as f:
        json.dump(counts, f)
    os.rename(done + ".tmp", done)  # the marker is written last: a half cache is redone
    log(f"bench: generated {counts['messages']} messages, {counts['bytes'] / 1e6:.0f} MB, "
        f"in {time.monotonic() - t:.1f} s")
    return os.path.join(d, "Maildir"), counts


def link_tree(src, dst):
    """Hard-links every file of src into dst (same file system: build/bench/)."""
    shutil.copytree(src, dst, copy_function=os.link)


# ---------------------------------------------------------------- measuring one run

def _tree_rss_kb(pid, include_self=True):
    """Sum of VmRSS over pid's descendants (and pid itself), in KB (0 once they are gone)."""
    total, todo, first = 0, [pid], True
    while todo:
        p = todo.pop()
        try:
            if include_self or not first:
                with open(f"/proc/{p}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
                            break
            first = False
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(x) for x in f.read().split())
        except (OSError, ValueError):
            pass
    return total


def measure(cmd, log_path, timeout=900):
    """Runs cmd; returns (exit status, wall s, peak RSS KB, sampled process-tree peak KB).

    The peak RSS is ru_maxrss from wait4(), taken by GNU time (/usr/bin/time -f %M) rather
    than by this script: Linux starts a forked child's high-water mark at its parent's RSS
    and keeps it across exec, so wait4 here would report at least this Python's own ~25 MB
    for any child. time is ~1 MB, so its wait4 is honest. ru_maxrss covers the largest single
    process among the child and the children it reaped (a forked parser worker included);
    the sampled tree peak (every 10 ms) adds concurrent processes together."""
    rss_path = log_path + ".rss"
    # The previous run left hundreds of MB of dirty pages (and a deleted tree) behind:
    # write them back now, untimed, so no run pays for its predecessor.
    os.sync()
    with open(log_path, "ab") as out:
        t0 = time.monotonic()
        p = subprocess.Popen(["/usr/bin/time", "-q", "-f", "%M", "-o", rss_path, *cmd],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        peak = [0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], _tree_rss_kb(p.pid, include_self=False))
                stop.wait(0.01)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            _, status, _ = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
            stop.set()
            th.join()
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    try:
        with open(rss_path) as f:
            rss = int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        rss = 0
    return p.returncode, wall, rss, peak[0]


# ---------------------------------------------------------------- the two tools

MBSYNCRC = """\
FSync no

IMAPAccount bench
Host 127.0.0.1
Port {port}
User {user}
Pass {password}
SSLType None
AuthMechs LOGIN

IMAPStore bench-far
Account bench

MaildirStore bench-near
Path {dir}/
Inbox {dir}/INBOX
SubFolders Verbatim

Channel bench
Far :bench-far:
Near :bench-near:
Patterns INBOX Sent
Create Near
Sync Pull
Expunge None
SyncState *
"""


def count_files(d):
    n = 0
    for box in ("INBOX", "Sent"):
        for sub in ("cur", "new"):
            p = os.path.join(d, box, sub)
            if os.path.isdir(p):
                n += len(os.listdir(p))
    return n


def run_mbsync(work, scratch, dovecot, tag, expected):
    d = os.path.join(scratch, f"mbsync-{tag}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    rc_path = os.path.join(work, f"mbsyncrc-{tag}")
    with open(rc_path, "w") as f:
        f.write(MBSYNCRC.format(port=dovecot.imap_port, user=dovecot.user,
                                password=dovecot.password, dir=d))
    status, wall, rss, tree = measure(["mbsync", "-c", rc_path, "-q", "bench"],
                                      os.path.join(work, "mbsync.log"))
    got = count_files(d)
    shutil.rmtree(d, ignore_errors=True)  # frees the disk for the next run
    ok = status == 0 and got == expected
    note = "ok" if ok else f"FAILED: exit {status}, {got}/{expected} messages"
    return dict(tool="mbsync", wall=wall, rss=rss, tree=tree, ok=ok, note=note, got=got)


def run_redflagd(binary, work, scratch, dovecot, tag, expected):
    d = os.path.join(scratch, f"redflagd-{tag}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    db = os.path.join(d, "redflagd.db")
    conf = rig.write_config(os.path.join(d, "bench.conf"), dovecot, db, tls="none",
                            owner=genmail.OWNER_ADDR)
    status, wall, rss, tree = measure([binary, "-c", conf, "sync", "--once"],
                                      os.path.join(work, "redflagd.log"))
    got, unparseable = -1, None
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            got = con.execute("SELECT count(*) FROM messages").fetchone()[0]
        finally:
            con.close()
        p = subprocess.run([binary, "-c", conf, "stats", "--json"], capture_output=True,
                           text=True, timeout=60)
        unparseable = json.loads(p.stdout).get("unparseable")
    except (sqlite3.Error, ValueError, OSError, subprocess.SubprocessError):
        pass
    db_mb = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)
                if f.startswith("redflagd.db")) / 1e6
    shutil.rmtree(d, ignore_errors=True)
    ok = status == 0 and got == expected
    note = "ok" if ok else f"FAILED: exit {status}, {got}/{expected} rows"
    if unparseable:
        note += f", {unparseable} unparseable"
    return dict(tool="redflagd", wall=wall, rss=rss, tree=tree, ok=ok, note=note, got=got,
                db_mb=db_mb)


# ---------------------------------------------------------------- one mailbox size

def bench_size(args, binary, maildir, counts, runs, label):
    expected = counts["messages"]
    work = os.path.join(args.workdir, f"run-{label}")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    dovecot = rig.Dovecot(os.path.join(work, "dovecot"))
    link_tree(maildir, dovecot.maildir)
    # Where the tools write (database, maildir): the disk under build/ by default.
    scratch = os.path.join(args.scratch, f"bench-{os.getpid()}") if args.scratch else work
    os.makedirs(scratch, exist_ok=True)
    results = []
    dovecot.start()
    try:
        log(f"\nbench: {label}: {expected} messages ({counts['bytes'] / 1e6:.0f} MB) on "
            f"127.0.0.1:{dovecot.imap_port}; warming Dovecot (one untimed run each) ...")
        for warm in (run_mbsync(work, scratch, dovecot, "warm", expected),
                     run_redflagd(binary, work, scratch, dovecot, "warm", expected)):
            log(f"  warm-up {warm['tool']:<9} {warm['wall']:7.2f} s  {warm['note']}")
        for i in range(1, runs + 1):
            # Alternate which tool goes first, so neither always follows the other.
            order = (run_redflagd, run_mbsync) if i % 2 else (run_mbsync, run_redflagd)
            for fn in order:
                if fn is run_redflagd:
                    r = run_redflagd(binary, work, scratch, dovecot, str(i), expected)
                else:
                    r = run_mbsync(work, scratch, dovecot, str(i), expected)
                r["run"] = i
                results.append(r)
                log(f"  run {i}   {r['tool']:<9} {r['wall']:7.2f} s  {r['rss']:8d} KB  "
                    f"{r['note']}")
    finally:
        dovecot.stop()
        if scratch != work:
            rig.rmtree(scratch)
    if not args.keep:
        rig.rmtree(work)
    return results


def med(results, tool, key):
    vals = [r[key] for r in results if r["tool"] == tool and r["ok"]]
    return statistics.median(vals) if vals else None


def report(label, expected, results):
    log(f"\n{label}: {expected} messages")
    log(f"  {'run':>3}  {'tool':<9} {'wall s':>8} {'msgs/s':>8} {'maxrss KB':>10} "
        f"{'tree KB':>9}  check")
    for r in results:
        log(f"  {r['run']:>3}  {r['tool']:<9} {r['wall']:8.2f} {expected / r['wall']:8.0f} "
            f"{r['rss']:10d} {r['tree']:9d}  {r['note']}")
    rf_w, mb_w = med(results, "redflagd", "wall"), med(results, "mbsync", "wall")
    rf_r, mb_r = med(results, "redflagd", "rss"), med(results, "mbsync", "rss")
    rf_t = med(results, "redflagd", "tree")
    return dict(rf_wall=rf_w, mb_wall=mb_w, rf_rss=rf_r, mb_rss=mb_r, rf_tree=rf_t,
                failed=sum(not r["ok"] for r in results),
                db_mb=med(results, "redflagd", "db_mb"))


def fmt(v, spec, unit=""):
    return "n/a" if v is None else f"{v:{spec}}{unit}"


def main():
    ap = argparse.ArgumentParser(description="redflagd import benchmark against mbsync")
    ap.add_argument("--binary", default="build/redflagd")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--small", type=int, default=5000,
                    help="second, smaller mailbox for the RSS-flatness check (0: skip)")
    ap.add_argument("--senders", type=int, default=200)
    ap.add_argument("--attach-share", type=float, default=0.10)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--scratch", default=None,
                    help="where both tools write (e.g. /dev/shm to leave the disk out); "
                         "default: the work directory under build/bench")
    ap.add_argument("--keep", action="store_true", help="keep the run directories and logs")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        print(f"bench: {binary} is missing; run make first", file=sys.stderr)
        return 1
    if shutil.which("mbsync") is None or shutil.which("dovecot") is None:
        print("bench: needs mbsync (isync) and dovecot-imapd; run make deps", file=sys.stderr)
        return 1
    args.workdir = os.path.abspath(args.workdir)
    t0 = time.monotonic()
    load0 = os.getloadavg()
    sizes = [args.messages] + ([args.small] if args.small else [])
    summaries = {}
    for n in sizes:
        maildir, counts = cached_mailbox(os.path.join(args.workdir, "cache"), args.seed, n,
                                         args.senders, args.attach_share)
        results = bench_size(args, binary, maildir, counts, args.runs, str(n))
        summaries[n] = (counts, results)

    log("\n" + "=" * 78)
    big = None
    for n in sizes:
        counts, results = summaries[n]
        s = report(f"mailbox {n}", counts["messages"], results)
        summaries[n] = (counts, results, s)
        big = big or s
    s = big
    n = args.messages
    counts = summaries[n][0]
    log("\nsummary (medians over successful runs; warm Dovecot, loopback, no TLS; output on "
        f"{args.scratch or 'build/bench'})")
    log(f"  mailbox           {counts['messages']} messages, {counts['bytes'] / 1e6:.0f} MB, "
        f"{counts['attachments']} with attachments, {counts['senders']} senders")
    log(f"  redflagd wall     {fmt(s['rf_wall'], '.2f', ' s')}   "
        f"({fmt(s['rf_wall'] and n / s['rf_wall'], '.0f', ' msgs/s')})")
    log(f"  mbsync wall       {fmt(s['mb_wall'], '.2f', ' s')}   "
        f"({fmt(s['mb_wall'] and n / s['mb_wall'], '.0f', ' msgs/s')})")
    ratio = s["rf_wall"] / s["mb_wall"] if s["rf_wall"] and s["mb_wall"] else None
    log(f"  ratio             redflagd/mbsync = {fmt(ratio, '.2f')}")
    log(f"  redflagd RSS      {fmt(s['rf_rss'], '.0f', ' KB')} peak process "
        f"(sampled tree {fmt(s['rf_tree'], '.0f', ' KB')}), target {RSS_TARGET_KB} KB; "
        f"mbsync {fmt(s['mb_rss'], '.0f', ' KB')}")
    log(f"  redflagd database {fmt(s['db_mb'], '.1f', ' MB')}")
    if len(sizes) > 1:
        small = summaries[sizes[1]][2]
        log(f"  RSS flatness      {sizes[1]} msgs: {fmt(small['rf_rss'], '.0f', ' KB')}   "
            f"{n} msgs: {fmt(s['rf_rss'], '.0f', ' KB')}"
            + (f"   ({s['rf_rss'] / small['rf_rss']:.2f}x for "
               f"{n / sizes[1]:.0f}x the mail)" if s["rf_rss"] and small["rf_rss"] else ""))
    failed = sum(summaries[k][2]["failed"] for k in sizes)
    if failed:
        log(f"  WARNING           {failed} run(s) failed their check; see the table")
    log(f"  PASS/FAIL wall    {'PASS' if ratio is not None and ratio <= 1.0 else 'FAIL'}"
        f"  redflagd wall <= mbsync wall")
    # Judged on the larger of the two: the parser worker runs beside the importer, so the
    # memory the machine must find is the sum while both live.
    peak = max(s["rf_rss"] or 0, s["rf_tree"] or 0) if s["rf_rss"] is not None else None
    rss_ok = peak is not None and peak <= RSS_TARGET_KB
    log(f"  PASS/FAIL RSS     {'PASS' if rss_ok else 'FAIL'}  redflagd peak RSS "
        f"{fmt(peak, '.0f', ' KB')} <= 32 MB (larger of process peak and sampled tree)")
    load1 = os.getloadavg()
    log(f"  machine           {os.cpu_count()} CPUs, load average {load0[0]:.2f} before, "
        f"{load1[0]:.2f} after (other work on the machine skews the walls)")
    log(f"\nbench: done in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
