"""`run`: stays connected, IDLEs on INBOX, stores new mail within 2 s, stops on SIGTERM."""

import json
import signal
import subprocess
import time

from harness import BIN, DovecotCase

DEADLINE_NEW_MAIL = 2.0  # seconds: the bound for IDLE delivery
POLL = 0.05


def msg(i):
    return (f"From: Kate <kate@client.example>\r\nTo: owner@studio.test\r\n"
            f"Subject: idle test {i}\r\nMessage-ID: <idle{i}@client.example>\r\n\r\n"
            f"message {i}\r\n").encode()


class RunTest(DovecotCase):
    def stored(self, conf, mid):
        return self.try_query(conf, "SELECT COUNT(*) FROM messages WHERE message_id=?", mid,
                              default=[(0,)])[0][0]

    def initial_sync_done(self, conf, proc):
        """Polls `stats --json` (bounded) until both mailboxes carry a checkpoint at the
        server's last UID."""
        want = {mb: max(self.dovecot.uids(mb), default=0) for mb in ("INBOX", "Sent")}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.assertIsNone(proc.poll(), "redflagd run exited during the initial sync")
            p = subprocess.run([BIN, "-c", conf, "stats", "--json"], capture_output=True,
                               text=True, timeout=30)
            if p.returncode == 0:
                st = json.loads(p.stdout)
                have = {m["mailbox"]: m["last_uid"] for m in st["mailboxes"]}
                if all(have.get(mb, -1) >= uid for mb, uid in want.items()):
                    return st
            time.sleep(0.1)
        self.fail("the initial sync did not finish within 30 s")

    def test_new_mail_arrives_within_two_seconds(self):
        self.dovecot.append("INBOX", msg(0))
        self.dovecot.append("Sent", msg(100))
        conf = self.config()
        proc, err = self.rf_start(conf, "run")
        try:
            st = self.initial_sync_done(conf, proc)
            self.assertEqual(st["messages"], 2)
            self.assertEqual(self.stored(conf, "idle0@client.example"), 1)
            # No pause here: mail that arrives while the daemon moves from the initial sync
            # into IDLE must not wait for the next poll.
            for i in (1, 2, 3):
                self.dovecot.append("INBOX", msg(i))
                t = time.monotonic()
                while (time.monotonic() - t < DEADLINE_NEW_MAIL
                       and not self.stored(conf, f"idle{i}@client.example")):
                    time.sleep(POLL)
                self.assertEqual(self.stored(conf, f"idle{i}@client.example"), 1,
                                 f"message {i} not stored within {DEADLINE_NEW_MAIL} s")
            self.assertIsNone(proc.poll(), "redflagd run exited on its own")
        finally:
            rc, in_time = self.stop_proc(proc, signal.SIGTERM, timeout=10)
        with open(err) as f:
            stderr = f.read()
        self.assertTrue(in_time, "redflagd run ignored SIGTERM for 10 s:\n" + stderr[-3000:])
        self.assertEqual(rc, 0, stderr[-3000:])
        st = json.loads(self.rf(conf, "stats", "--json").stdout)
        self.assertEqual(st["messages"], 5)
        rows = self.query(conf, "SELECT mailbox, uid FROM messages")
        self.assertEqual(len(rows), len(set(rows)))
