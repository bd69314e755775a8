"""Every message of the MIME torture corpus is imported (parsed or marked unparseable) without
the daemon dying, and memory stays bounded."""

import os
import subprocess
import unittest

from harness import BIN, CORPUS, DovecotCase

TORTURE = os.path.join(CORPUS, "torture", "messages")


@unittest.skipUnless(os.path.isdir(TORTURE), "corpus not present")
class TortureTest(DovecotCase):
    def test_torture_corpus(self):
        files = sorted(os.listdir(TORTURE))
        raws = []
        for f in files:
            with open(os.path.join(TORTURE, f), "rb") as fh:
                raws.append(fh.read())
        refused = self.dovecot.append_many("INBOX", raws)
        on_server = len(self.dovecot.uids("INBOX"))
        self.assertEqual(on_server + refused, len(raws))

        conf = self.config()
        proc = subprocess.Popen([BIN, "-c", conf, "sync", "--once"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _, status, ru = os.wait4(proc.pid, 0)
        err = proc.stderr.read()
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, err[-3000:])
        n, bad = self.query(conf, "SELECT COUNT(*), COUNT(parse_error) FROM messages")[0]
        self.assertEqual(n, on_server)
        # ru_maxrss covers the daemon and its parser worker (KiB).
        self.assertLess(ru.ru_maxrss, 64 * 1024, f"peak RSS {ru.ru_maxrss} KiB")
        print(f"\n  torture: {len(raws)} files, {refused} refused by the server, {n} imported, "
              f"{bad} unparseable, peak RSS {ru.ru_maxrss // 1024} MiB", flush=True)
