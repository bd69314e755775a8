"""kill -9 at seeded-random points during imports, then a final sync: every server message is
stored exactly once, the checkpoint never runs ahead of the stored rows, the database stays
intact, and no parser worker outlives the daemon.

The kills come in chains on one database (a fresh import, then resumed imports killed again),
up to KILLS_PER_DB kills, then a final `sync --once` and the exactly-once check; then the next
chain starts on a new database. A kill counts when the import was still running at that
moment; the test needs MIN_LANDED such kills within MAX_ROUNDS runs.

Seed: RF_CRASH_SEED (default below); the seed and every delay are printed on failure.
"""

import os
import random
import signal
import time

from harness import DovecotCase, make_mailbox, server_uids

SEED = int(os.environ.get("RF_CRASH_SEED", "20261122"))
MIN_LANDED = 12
MAX_ROUNDS = 60
KILLS_PER_DB = 3
DELAY_MS = (20, 800)
# Big enough that one import lasts longer than the longest delay (~1.2 s on 2 cores).
N_INBOX = 10000


def processes_naming(conf):
    """PIDs of processes whose command line names this config (the parser worker is a fork
    of the daemon, so it carries the same command line)."""
    pids = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    if conf.encode() in f.read():
                        pids.append(int(p))
            except OSError:
                pass
    return pids


class CrashTest(DovecotCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        inbox, sent = make_mailbox(seed=3, n_inbox=N_INBOX, n_clients=40,
                                   attach_marker="CRASHATTACHMENT")
        # Straight into the maildir: APPENDing 13,000 messages would take a minute.
        cls.dovecot.deliver_many("INBOX", inbox)
        cls.dovecot.deliver_many("Sent", sent)
        cls.uids = server_uids(cls.dovecot)
        assert len(cls.uids["INBOX"]) == len(inbox) and len(cls.uids["Sent"]) == len(sent)
        cls.expected = {(mb, u) for mb, us in cls.uids.items() for u in us}

    def check_after_kill(self, conf, what):
        deadline = time.monotonic() + 5
        while processes_naming(conf) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(processes_naming(conf), [], f"{what}: a process outlived the kill")
        ok = self.try_query(conf, "PRAGMA integrity_check")
        if ok is None:
            return 0  # killed before the database existed
        self.assertEqual(ok[0][0], "ok", what)
        rows = self.try_query(conf, "SELECT mailbox, uid FROM messages", default=[])
        self.assertEqual(len(rows), len(set(rows)), f"{what}: duplicate rows")
        self.assertLessEqual(set(rows), self.expected, f"{what}: rows the server does not have")
        # The checkpoint may lag the rows, never lead them: everything at or below last_uid
        # must already be stored, or the next sync would skip it for good.
        stored = set(rows)
        for mb, uidvalidity, last_uid in self.try_query(
                conf, "SELECT mailbox, uidvalidity, last_uid FROM sync_state", default=[]):
            self.assertEqual(uidvalidity, self.dovecot.uidvalidity(mb), what)
            missing = [u for u in self.uids[mb] if u <= last_uid and (mb, u) not in stored]
            self.assertEqual(missing[:10], [], f"{what}: {mb} checkpoint {last_uid} is ahead "
                                               f"of the rows ({len(missing)} missing)")
        return len(rows)

    def final_sync(self, conf, what):
        self.rf(conf, "sync", "--once")
        rows = self.query(conf, "SELECT mailbox, uid FROM messages")
        self.assertEqual(len(rows), len(set(rows)), f"{what}: duplicate rows")
        missing, extra = self.expected - set(rows), set(rows) - self.expected
        self.assertEqual((sorted(missing)[:10], sorted(extra)[:10]), ([], []),
                         f"{what}: {len(missing)} missing, {len(extra)} extra")
        self.assertEqual(self.query(conf, "PRAGMA integrity_check")[0][0], "ok", what)
        st = self.stats(conf)
        self.assertEqual(st["messages"], len(self.expected), what)

    def test_kill9_at_random_points(self):
        rnd = random.Random(SEED)
        landed, chain, kills_here, conf = 0, 0, 0, None
        log = []
        for rnd_no in range(MAX_ROUNDS):
            if landed >= MIN_LANDED:
                break
            if conf is None:
                conf = self.config(f"chain{chain}.conf", account_extra="batch_size = 100;")
            delay = rnd.uniform(*DELAY_MS) / 1000
            proc, _ = self.rf_start(conf, "sync", "--once")
            time.sleep(delay)
            running = proc.poll() is None
            rc, _ = self.stop_proc(proc, signal.SIGKILL)
            what = f"seed {SEED}, round {rnd_no}, chain {chain}, kill after {delay * 1000:.0f} ms"
            n = self.check_after_kill(conf, what)
            log.append(f"{what}: {'killed' if running else f'had exited {rc}'}, {n} rows")
            if running:
                landed += 1
                kills_here += 1
            else:
                self.assertEqual(rc, 0, what)
            if not running or kills_here >= KILLS_PER_DB:
                self.final_sync(conf, what)
                chain, kills_here, conf = chain + 1, 0, None
        if conf is not None:
            self.final_sync(conf, f"seed {SEED}, last chain {chain}")
        # The kills must really have hit running imports, or this test proved nothing.
        self.assertGreaterEqual(landed, MIN_LANDED, "\n".join(log))
        print(f"\n  crash: {landed} kills landed mid-import in {len(log)} runs, "
              f"{chain + (conf is not None)} databases, {len(self.expected)} messages each",
              flush=True)
