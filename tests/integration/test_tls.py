"""TLS: the certificate chain and the host name are verified before any credential is sent.

Dovecot's log is the witness. A client that gives up after the handshake shows as
    imap-login: Info: Disconnected: Connection closed (no auth attempts in 0 secs): user=<>, ...
        TLS, session=<...>
(or "disconnected before auth was ready", or "Aborted login by logging out (no auth attempts
...)" after STARTTLS), while a login shows as "imap-login: Info: Login: user=<owner>, ...".
"""

import re

from harness import DovecotCase

MSG = b"From: a@client.example\r\nTo: owner@studio.test\r\nSubject: hi\r\n\r\nhello\r\n"

# Anything that means credentials reached the server.
AUTH_ATTEMPT = re.compile(r"Login: user=<|auth failed|\d+ (?:auth|authentication) attempts|"
                          r"user=<[^>]|Authentication failure")
# The refused client's own connection: the handshake finished (", TLS" — the rig's port probes
# never start one), then it left without authenticating.
REFUSED = (r"imap-login: .*Disconnected.*(?:no auth attempts|before auth was ready).*"
           r"user=<>.*, TLS[,:]")
# A successful login over TLS (implicit, or after STARTTLS on the plain port).
TLS_LOGIN = r"imap-login: .*Login: user=<owner>.*, TLS[,:]"


class TlsCase(DovecotCase):
    def assert_refused(self, conf, stderr_pattern):
        mark = self.dovecot.log_mark()
        p = self.rf(conf, "sync", "--once", check=False)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stderr, stderr_pattern)
        self.assertNotIn(self.dovecot.password, p.stderr)
        # The connection reached the server and was logged (bounded wait: the log is async) ...
        self.dovecot.wait_log(REFUSED, mark)
        # ... and nothing in the log since then shows credentials.
        attempts = [l for l in self.dovecot.log_since(mark).splitlines() if AUTH_ATTEMPT.search(l)]
        self.assertEqual(attempts, [], "the server saw a login attempt")
        self.assertEqual(self.try_query(conf, "SELECT COUNT(*) FROM messages",
                                        default=[(0,)])[0][0], 0)

    def assert_tls_login(self, conf):
        mark = self.dovecot.log_mark()
        self.rf(conf, "sync", "--once")
        line = self.dovecot.wait_log(TLS_LOGIN, mark)
        # The detector used by assert_refused would have seen this login.
        self.assertRegex(line, AUTH_ATTEMPT)
        self.assertEqual(self.stats(conf)["messages"], 1)


class TlsTest(TlsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot.append("INBOX", MSG)

    def test_implicit_tls_with_the_right_ca(self):
        self.assert_tls_login(self.config("implicit.conf", tls="implicit"))

    def test_starttls_with_the_right_ca(self):
        self.assert_tls_login(self.config("starttls.conf", tls="starttls"))

    def test_unknown_ca_is_refused_before_login(self):
        self.assert_refused(self.config("otherca.conf", tls="implicit-otherca"),
                            r"(?i)certificate")


class WrongHostTest(TlsCase):
    """The server's certificate is signed by the CA the client trusts, but names only
    wrong.example; the client connects to localhost."""

    cert = "wronghost"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot.append("INBOX", MSG)

    def test_wrong_host_name_is_refused_before_login_implicit(self):
        self.assert_refused(self.config("wrong-implicit.conf", tls="implicit"),
                            r"(?i)certificate|host ?name")

    def test_wrong_host_name_is_refused_before_login_starttls(self):
        self.assert_refused(self.config("wrong-starttls.conf", tls="starttls"),
                            r"(?i)certificate|host ?name")
