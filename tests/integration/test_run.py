"""`run`: stays connected, IDLEs on INBOX, stores new mail within seconds, stops on SIGTERM."""

import json
import signal
import subprocess
import time

from harness import BIN, DovecotCase


def msg(i):
    return (f"From: Kate <kate@client.example>\r\nTo: owner@studio.test\r\n"
            f"Subject: idle test {i}\r\nMessage-ID: <idle{i}@client.example>\r\n\r\n"
            f"message {i}\r\n").encode()


class RunTest(DovecotCase):
    def stored(self, conf, mid):
        return self.query(conf, "SELECT COUNT(*) FROM messages WHERE message_id=?", mid)[0][0]

    def test_new_mail_arrives_within_two_seconds(self):
        self.dovecot.append("INBOX", msg(0))
        conf = self.config()
        proc = subprocess.Popen([BIN, "-c", conf, "run"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if self.stored(conf, "idle0@client.example"):
                        break
                except Exception:
                    pass  # the database may not exist yet
                time.sleep(0.05)
            self.assertEqual(self.stored(conf, "idle0@client.example"), 1)
            time.sleep(0.5)  # let it enter IDLE

            for i in (1, 2):
                self.dovecot.append("INBOX", msg(i))
                t = time.monotonic()
                while time.monotonic() - t < 2.0 and not self.stored(conf, f"idle{i}@client.example"):
                    time.sleep(0.05)
                self.assertEqual(self.stored(conf, f"idle{i}@client.example"), 1,
                                 f"message {i} not stored within 2 s")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
        self.assertEqual(rc, 0, proc.stderr.read())
        st = json.loads(self.rf(conf, "stats", "--json").stdout)
        self.assertEqual(st["messages"], 3)
