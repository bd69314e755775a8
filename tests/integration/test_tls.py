"""TLS: the certificate chain and the host name are verified before any credential is sent."""

import re

from harness import DovecotCase

MSG = b"From: a@client.example\r\nTo: owner@studio.test\r\nSubject: hi\r\n\r\nhello\r\n"


def login_attempts(log):
    """Dovecot log lines that show a login or an authentication attempt."""
    return [l for l in log.splitlines()
            if re.search(r"imap-login: (Login|Aborted login|Disconnected).*user=<", l)
            or "auth failed" in l or "Authentication failure" in l]


class TlsTest(DovecotCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot.append("INBOX", MSG)

    def test_implicit_tls_with_the_right_ca(self):
        conf = self.config("implicit.conf", tls="implicit")
        self.rf(conf, "sync", "--once")
        self.assertEqual(self.stats(conf)["messages"], 1)

    def test_starttls_with_the_right_ca(self):
        conf = self.config("starttls.conf", tls="starttls")
        self.rf(conf, "sync", "--once")
        self.assertEqual(self.stats(conf)["messages"], 1)

    def test_unknown_ca_is_refused_before_login(self):
        before = len(login_attempts(self.dovecot.log_text()))
        conf = self.config("otherca.conf", tls="implicit-otherca")
        p = self.rf(conf, "sync", "--once", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stderr, r"(?i)certificate")
        self.assertEqual(len(login_attempts(self.dovecot.log_text())), before,
                         "the server saw a login attempt")
        self.assertEqual(self.query(conf, "SELECT COUNT(*) FROM messages")[0][0], 0)


class WrongHostTest(DovecotCase):
    cert = "wronghost"

    def test_wrong_host_name_is_refused_before_login(self):
        for tls in ("implicit", "starttls"):
            with self.subTest(tls=tls):
                before = len(login_attempts(self.dovecot.log_text()))
                conf = self.config(f"wrong-{tls}.conf", tls=tls)
                p = self.rf(conf, "sync", "--once", check=False)
                self.assertNotEqual(p.returncode, 0)
                self.assertRegex(p.stderr, r"(?i)host ?name|certificate")
                self.assertEqual(len(login_attempts(self.dovecot.log_text())), before)
