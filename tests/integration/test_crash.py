"""kill -9 at random points during an import, then a final sync: every server message is
stored exactly once, and no parser worker outlives the daemon."""

import os
import random
import signal
import subprocess
import time

from harness import BIN, DovecotCase, make_mailbox, server_uids

ROUNDS = 12


def workers_of(conf):
    """PIDs of processes whose command line names this config (the worker is a fork)."""
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
        inbox, sent = make_mailbox(seed=3, n_inbox=2400, n_clients=40)
        assert cls.dovecot.append_many("INBOX", inbox) == 0
        assert cls.dovecot.append_many("Sent", sent) == 0

    def test_kill9_at_random_points(self):
        rnd = random.Random(20261122)
        # Small batches give many commit points, so kills land between and inside them.
        probe = self.config("probe.conf", account_extra="batch_size = 100;")
        t = time.monotonic()
        self.rf(probe, "sync", "--once")
        full = time.monotonic() - t
        uids = server_uids(self.dovecot)
        expected = {(mb, u) for mb, us in uids.items() for u in us}

        interrupted = 0
        for i in range(ROUNDS):
            conf = self.config(f"crash{i}.conf", account_extra="batch_size = 100;")
            proc = subprocess.Popen([BIN, "-c", conf, "sync", "--once"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rnd.uniform(0.05, 0.9) * full)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            deadline = time.monotonic() + 5
            while workers_of(conf) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(workers_of(conf), [], "parser worker outlived the daemon")
            n = self.query(conf, "SELECT COUNT(*) FROM messages")[0][0]
            if n < len(expected):
                interrupted += 1
            self.assertEqual(self.query(conf, "PRAGMA integrity_check")[0][0], "ok")
            # Resume, then check exactly-once.
            self.rf(conf, "sync", "--once")
            rows = self.query(conf, "SELECT mailbox, uid FROM messages")
            self.assertEqual(len(rows), len(set(rows)), "duplicate rows")
            self.assertEqual(set(rows), expected, f"round {i}: rows differ from the server")
        # The kills must really have hit running imports.
        self.assertGreaterEqual(interrupted, 10, f"only {interrupted} kills landed mid-import")
