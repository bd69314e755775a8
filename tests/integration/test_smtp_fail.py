"""`digest --send` against a scripted SMTP server (tests/rig/smtprig.py) that fails in the
ways real servers do: nothing listening, 421 at connect, 451 after the data, 550 at RCPT,
a wrong password, no STARTTLS, an untrusted certificate — and the good paths next to them
(STARTTLS with the right CA and AUTH, a transient failure followed by success).

For every case: the exit status, a clear line on stderr, what the server saw (its command
log and the messages it accepted), and the digests row: sent_at stays NULL unless the
server said 250 to the end of DATA. Transient failures are retried (retries = 2, so three
attempts, retry_delay = 1 s); permanent ones (5xx, authentication, TLS) are not.

The database comes from a small genmail demo mailbox imported once (test_digest's
DemoMailCase); each case works on its own copy.
"""

import os
import re
import time
import unittest

import rig
import smtprig
import test_digest as td

PERIOD = td.PERIOD
ATTEMPTS = 3  # retries = 2 in td.smtp_config()


class SmtpFailTest(td.DemoMailCase):

    MESSAGES = 60

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.certs = smtprig.make_certs(os.path.join(cls.tmp, "certs"))
        except BaseException:
            cls.tearDownClass()
            raise

    # ---- helpers

    def server(self, name, **kw):
        return self.serve(smtprig.Smtpd(os.path.join(self.tmp, name, "smtpd"), **kw))

    def password_file(self, name, secret):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "smtp.pass")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
        return path

    def send(self, conf, *extra):
        t0 = time.monotonic()
        p = self.rf(conf, "digest", "--period", PERIOD, "--send", *extra, check=False,
                    timeout=120)
        p.elapsed = time.monotonic() - t0
        return p

    def assert_failed(self, p, pattern):
        """Exit status 1, a last stderr line that says what went wrong, pattern somewhere."""
        self.assertEqual(p.returncode, 1, f"exit {p.returncode}:\n{p.stderr}")
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        self.assertTrue(lines, "nothing on stderr")
        self.assertLess(len(lines[-1]), 300, "the error is not one readable line")
        self.assertRegex(p.stderr, pattern)

    def assert_not_sent(self, conf, transmitted=False):
        """No sent_at; and (unless transmitted) no transmitted_at either: the data never
        reached its end, so a later plain --send must not think it may have arrived."""
        row = self.digest_row(conf)
        if row is None:
            return
        self.assertIsNone(row[3], "sent_at recorded although the send failed")
        if not transmitted:
            self.assertIsNone(row[2], "transmitted_at recorded although DATA never ended")

    def assert_next_send_works(self, name):
        """After a failure, a plain --send to a working server delivers the digest."""
        good = self.server(name + "-good")
        conf = self.fresh_config_only(name, td.smtp_config(good.port))
        p = self.send(conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(good.messages()), 1)
        self.assertIsNotNone(self.digest_row(conf)[3])

    def fresh_config_only(self, name, smtp):
        """Rewrites name's config (another smtp group) and keeps its database."""
        d = os.path.join(self.tmp, name)
        return rig.redflagd_config(os.path.join(d, "rf.conf"), self.dovecot,
                                   db=os.path.join(d, "redflagd.db"),
                                   owner=td.genmail.OWNER_ADDR,
                                   extra=smtp + td.digest_config() + td.CLIENTS)

    # ---- transient: retried

    def test_server_down_is_retried(self):
        port = rig.free_port()  # nothing listens there
        conf = self.fresh("down", td.smtp_config(port))
        p = self.send(conf)
        self.assert_failed(p, r"(?i)connect|refused|unreachable")
        retries = [ln for ln in p.stderr.splitlines()
                   if re.search(r"(?i)\bretr|trying again|attempt \d+ of", ln)]
        self.assertTrue(len(retries) >= ATTEMPTS - 1
                        or re.search(rf"\b{ATTEMPTS} attempts\b", p.stderr),
                        f"no sign of {ATTEMPTS - 1} retries:\n{p.stderr}")
        self.assertGreaterEqual(p.elapsed, 1.0, "retried without waiting retry_delay")
        self.assert_not_sent(conf)
        self.assert_next_send_works("down")

    def test_421_at_connect_is_retried(self):
        srv = self.server("421", reply={"connect": "421 4.3.2 try again later"})
        conf = self.fresh("421", td.smtp_config(srv.port))
        p = self.send(conf)
        self.assert_failed(p, r"421")
        log = srv.log()
        self.assertEqual(log.count("CONNECT"), ATTEMPTS, log)
        self.assertNotIn("MAIL", log)
        self.assertEqual(srv.messages(), [])
        self.assert_not_sent(conf)
        self.assert_next_send_works("421")

    def test_451_after_data_once_then_accepted(self):
        srv = self.server("451", reply={"dataend": ["451 4.3.0 busy, try again"]})
        conf = self.fresh("451", td.smtp_config(srv.port))
        p = self.send(conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("451", p.stderr, "the retried failure is not logged")
        self.assertEqual(len(srv.messages()), 1, "exactly one message must be accepted")
        log = srv.log()
        self.assertEqual(log.count("CONNECT"), 2, log)
        self.assertEqual(log.count("DATA"), 2, log)
        row = self.digest_row(conf)
        self.assertIsNotNone(row[3], "sent_at not recorded after the 250")
        self.assertEqual(srv.envelopes()[0]["rcpt_tos"], [td.DIGEST_TO])

    # ---- permanent: not retried

    def test_550_at_rcpt_is_permanent(self):
        srv = self.server("550", reply={"rcpt": "550 5.1.1 mailbox unavailable"})
        conf = self.fresh("550", td.smtp_config(srv.port))
        p = self.send(conf)
        self.assert_failed(p, r"(?i)permanent")
        self.assertIn("550", p.stderr)
        log = srv.log()
        self.assertEqual(log.count("MAIL"), 1, f"retried a permanent failure: {log}")
        self.assertEqual(log.count("CONNECT"), 1, log)
        self.assertNotIn("DATA", log)
        self.assertEqual(srv.messages(), [])
        self.assert_not_sent(conf)
        self.assert_next_send_works("550")

    def test_wrong_password_is_permanent_and_secret(self):
        secret = "wrong-Pw-9c1e5d"
        srv = self.server("auth-bad", auth=("mette", "right-Pw-7f3a"))
        pw = self.password_file("auth-bad", secret)
        conf = self.fresh("auth-bad", td.smtp_config(
            srv.port, more=f'user = "mette"; password_file = "{pw}";'))
        p = self.send(conf)
        self.assert_failed(p, r"(?i)auth")
        self.assertNotIn(secret, p.stderr + p.stdout)
        self.assertNotIn("right-Pw", p.stderr + p.stdout)
        log = srv.log()
        self.assertEqual(log.count("AUTH"), 1, f"authentication retried: {log}")
        self.assertEqual(log.count("CONNECT"), 1, log)
        self.assertNotIn("MAIL", log)
        self.assertEqual(srv.messages(), [])
        self.assert_not_sent(conf)

    def test_starttls_not_offered(self):
        # A config without tls = "none" requires STARTTLS; this server does not offer it.
        srv = self.server("notls", auth=("mette", "pw-notls-31"))
        pw = self.password_file("notls", "pw-notls-31")
        conf = self.fresh("notls", td.smtp_config(
            url=f'url = "smtp://localhost:{srv.port}"; ca_file = "{self.certs["ca"]}";',
            more=f'user = "mette"; password_file = "{pw}";'))
        p = self.send(conf)
        self.assert_failed(p, r"STARTTLS|TLS")
        log = srv.log()
        self.assertIn("EHLO", log, "the client never talked to the server")
        for cmd in ("AUTH", "MAIL", "RCPT", "DATA"):
            self.assertNotIn(cmd, log, f"{cmd} sent in clear: {log}")
        self.assertEqual(srv.messages(), [])
        self.assert_not_sent(conf)

    def test_starttls_untrusted_certificate(self):
        srv = self.server("otherca", starttls=(self.certs["cert"], self.certs["key"]))
        conf = self.fresh("otherca", td.smtp_config(
            url=f'url = "smtp://localhost:{srv.port}"; ca_file = "{self.certs["other_ca"]}";'))
        p = self.send(conf)
        self.assert_failed(p, r"(?i)certificate")
        for cmd in ("AUTH", "MAIL"):
            self.assertNotIn(cmd, srv.log())
        self.assertEqual(srv.messages(), [])
        self.assert_not_sent(conf)

    # ---- the good paths

    def test_starttls_with_auth(self):
        srv = self.server("tls-ok", starttls=(self.certs["cert"], self.certs["key"]),
                          auth=("mette", "pw-tls-ok-5a"))
        pw = self.password_file("tls-ok", "pw-tls-ok-5a")
        conf = self.fresh("tls-ok", td.smtp_config(
            url=f'url = "smtp://localhost:{srv.port}"; ca_file = "{self.certs["ca"]}";',
            more=f'user = "mette"; password_file = "{pw}";'))
        p = self.send(conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(srv.messages()), 1)
        lines = srv.log_lines()
        cmds = [c for c, _, _ in lines]
        self.assertIn("STARTTLS", cmds)
        for cmd, tls, _ in lines:
            if cmd in ("AUTH", "MAIL", "RCPT", "DATA"):
                self.assertEqual(tls, "tls", f"{cmd} in clear: {lines}")
        self.assertIsNotNone(self.digest_row(conf)[3])

    def test_plain_auth(self):
        srv = self.server("auth-ok", auth=("mette", "pw-plain-2b"))
        pw = self.password_file("auth-ok", "pw-plain-2b")
        conf = self.fresh("auth-ok", td.smtp_config(
            srv.port, more=f'user = "mette"; password_file = "{pw}";'))
        p = self.send(conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("AUTH", srv.log())
        self.assertEqual(len(srv.messages()), 1)
        self.assertEqual(srv.envelopes()[0]["mail_from"], td.SMTP_FROM)
        self.assertIsNotNone(self.digest_row(conf)[3])


if __name__ == "__main__":
    unittest.main()
