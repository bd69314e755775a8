"""Every message of the MIME torture corpus is imported (parsed or marked unparseable) without
the daemon dying, and memory stays bounded. Skips when ../shared/corpus is absent."""

import os
import signal
import subprocess
import unittest

from harness import BIN, CORPUS, SANITIZED, DovecotCase

TORTURE = os.path.join(CORPUS, "torture", "messages")
RSS_LIMIT_KIB = 64 * 1024
TIMEOUT = 300
LAUNCHER = "/usr/bin/python3"
LAUNCH = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(ru.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


@unittest.skipUnless(os.path.isdir(TORTURE), "corpus not present")
class TortureTest(DovecotCase):
    def test_torture_corpus(self):
        files = sorted(os.listdir(TORTURE))
        raws = []
        for f in files:
            with open(os.path.join(TORTURE, f), "rb") as fh:
                raws.append(fh.read())
        self.assertTrue(raws, "empty torture corpus")
        refused = self.dovecot.append_many("INBOX", raws)
        uids = set(self.dovecot.uids("INBOX"))
        self.assertEqual(len(uids) + refused, len(raws))

        conf = self.config()
        err = os.path.join(os.path.dirname(conf), "stderr")
        rss_file = os.path.join(os.path.dirname(conf), "maxrss")
        # ru_maxrss survives exec: a daemon forked straight from this test process would
        # report this (large) Python process's peak. A small launcher forks it instead and
        # reports os.wait4's rusage: the larger of the daemon's own peak, its reaped
        # children's (the parser worker) and the launcher's ~5 MB at fork time.
        with open(err, "w") as ef:
            proc = subprocess.Popen([LAUNCHER, "-S", "-c", LAUNCH, rss_file, BIN, "-c", conf,
                                     "sync", "--once"], stdout=subprocess.DEVNULL, stderr=ef,
                                    start_new_session=True)
        try:
            rc = proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self.fail(f"sync --once still running after {TIMEOUT} s")
        with open(rss_file) as f:
            maxrss = int(f.read())
        with open(err, errors="replace") as f:
            stderr = f.read()
        self.assertEqual(rc, 0, stderr[-3000:])

        rows = self.query(conf, "SELECT uid, parse_error FROM messages WHERE mailbox='INBOX'")
        self.assertEqual(len(rows), len({u for u, _ in rows}), "duplicate rows")
        self.assertEqual({u for u, _ in rows}, uids, "messages missing from the database")
        bad = sum(e is not None for _, e in rows)
        st = self.stats(conf)
        self.assertEqual(st["unparseable"], bad)
        # Under ASan (make asan) the shadow memory alone exceeds the budget: not checked.
        if not SANITIZED:
            self.assertLess(maxrss, RSS_LIMIT_KIB, f"peak RSS {maxrss} KiB")
        print(f"\n  torture: {len(raws)} files, {refused} refused by the server, {len(rows)} "
              f"imported, {bad} unparseable, peak RSS {maxrss / 1024:.1f} MiB"
              f"{' (ASan build: RSS not checked)' if SANITIZED else ''}", flush=True)
