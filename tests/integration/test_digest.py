"""The review digest end to end: a year of generated client mail in Dovecot, `sync --once`,
then `digest --send` to a real SMTP server (aiosmtpd) on loopback, and the received mail
parsed with Python's `email` package.

The mailbox is tests/bench/genmail.py's demo world (seed 42): Bergmann Logistik rushes
(de), Brightside Media haggles and pays late (en), Nordlys Bryghus praises and refers
others (da), Kestrel Events wants weekends (en), Skovgaard Tandklinik is quiet (da).
Two hand-made hostile messages from Bergmann's address are added: one whose Subject is
HTML/script markup, one whose RFC 2047 Subject decodes to CR LF "Bcc: ..." — both with a
body that triggers a rush signal and dated after the generated mail, so they are the
newest evidence and must appear (escaped) in the digest.

One Dovecot, one import into a "golden" database; every test works on its own copy of
that database and its own SMTP sink, so the tests do not depend on each other's order.
"""

import email
import email.policy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from datetime import datetime, timezone

import harness
import rig

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bench"))
sys.path.insert(0, os.path.join(HERE, ".."))

import genmail  # noqa: E402
from demo import CLIENTS  # noqa: E402  (the five demo clients, as the owner configures them)

PERIOD = "2025"
DIGEST_TO = "owner@studio.test"
SMTP_FROM = "redflagd@studio.test"
# The headers aiosmtpd's Mailbox handler adds to what it received.
SINK_HEADERS = {"x-peer", "x-mailfrom", "x-rcptto"}

TIME_SIGNALS = {"received_after_hours", "sent_after_hours", "old_rate"}
SUBJECTS = {"en": "Client review 2025", "da": "Kundegennemgang 2025",
            "de": "Kundenübersicht 2025"}
# The English verdict labels of the text part (digest.c's string table).
VERDICT_LABEL_EN = {"cherish": "cherish", "keep": "keep", "talk": "talk",
                    "raise_price": "raise price", "release": "release"}
# What genmail's personas are designed to produce (issue 4). Brightside may land on either
# side of the release threshold: both say "act on the price".
EXPECTED_VERDICTS = {
    "Bergmann Logistik": {"talk"},
    "Brightside Media": {"raise_price", "release"},
    "Nordlys Bryghus": {"cherish"},
    "Kestrel Events": {"talk"},
    "Skovgaard Tandklinik": {"keep"},
}

HOSTILE_SUBJECT = '<script>alert(1)</script> "><img src=x onerror=alert(1)>'
INJECTION_DECODED = "Files needed\r\nBcc: victim@evil.example\r\nX-Injected: yes"
HOSTILE = [
    # (Subject header as written, body): from a configured client (Bergmann), after the
    # generated year (it ends 2025-12-17), on a weekday in working hours.
    ("Thu, 18 Dec 2025 10:15:00 +0100", HOSTILE_SUBJECT,
     "I need this ASAP, by tomorrow morning. The board wants to see the new layout "
     "before the meeting on Friday."),
    ("Thu, 18 Dec 2025 11:20:00 +0100",
     "=?UTF-8?Q?Files_needed=0D=0ABcc:_victim@evil.example=0D=0AX-Injected:_yes?=",
     "This is urgent, could you send it ASAP please? We need the files today, ideally "
     "before lunch."),
]


def hostile_messages():
    out = []
    for i, (date, subject, body) in enumerate(HOSTILE, 1):
        out.append((
            "From: =?UTF-8?Q?J=C3=BCrgen_Bergmann?= <juergen.bergmann@bergmann-logistik.de>\r\n"
            f"To: Mette Holm <{genmail.OWNER_ADDR}>\r\n"
            f"Subject: {subject}\r\nDate: {date}\r\n"
            f"Message-ID: <hostile-{i}@bergmann-logistik.de>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Hi Mette,\r\n\r\n{body}\r\n\r\nBest,\r\nJuergen\r\n").encode())
    return out


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def parts(msg):
    """(text/plain part, text/html part) of a multipart/alternative message."""
    text = html = None
    for p in msg.iter_parts():
        if p.get_content_type() == "text/plain":
            text = p
        elif p.get_content_type() == "text/html":
            html = p
    return text, html


def squash(s):
    """Whitespace runs to one space (the text part wraps and indents lines)."""
    return " ".join(s.split())


def latest_due_period(now=None):
    """The newest yearly period whose digest (at = "01-15 08:00" Europe/Copenhagen) is due."""
    now = now or datetime.now(timezone.utc)
    due = datetime(now.year, 1, 15, 7, 0, tzinfo=timezone.utc)  # 08:00 CET
    return str(now.year - 1 if now >= due else now.year - 2)


def smtp_config(port=None, url=None, more=""):
    """The smtp group: plain SMTP to 127.0.0.1:port (tls = "none") unless url is given."""
    if url is None:
        url = f'url = "smtp://127.0.0.1:{port}"; tls = "none";'
    return (f'smtp = {{ {url} from = "{SMTP_FROM}"; timeout = 5; retries = 2; '
            f'retry_delay = 1; {more} }};\n')


def digest_config(language="en"):
    return (f'digest = {{ to = "{DIGEST_TO}"; every = "year"; at = "01-15 08:00"; '
            f'language = "{language}"; }};\n')


class DemoMailCase(harness.DovecotCase):
    """Dovecot filled with genmail's demo year (MESSAGES messages, plus extra_inbox()),
    imported once into a golden database that fresh() copies for each test."""

    MESSAGES = 300

    @classmethod
    def extra_inbox(cls):
        return []

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rf-it-")
        cls.dovecot = rig.Dovecot(os.path.join(cls.tmp, "dovecot"))
        cls.servers = []
        try:
            # Written into the Maildir before Dovecot starts (start() hands it to nobody).
            cls.counts = genmail.generate(cls.dovecot.maildir, seed=42,
                                          messages=cls.MESSAGES, demo=True)
            cls.dovecot.start()
            for raw in cls.extra_inbox():
                cls.dovecot.append("INBOX", raw)
            cls.golden = os.path.join(cls.tmp, "golden")
            os.makedirs(cls.golden)
            conf = rig.redflagd_config(os.path.join(cls.golden, "rf.conf"), cls.dovecot,
                                       owner=genmail.OWNER_ADDR, extra=CLIENTS)
            p = subprocess.run([harness.BIN, "-c", conf, "sync", "--once"],
                               capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                raise RuntimeError(f"sync --once exited {p.returncode}:\n{p.stderr}")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.stop()
        super().tearDownClass()

    @classmethod
    def serve(cls, server):
        """Starts server (SmtpSink, Smtpd) and stops it in tearDownClass."""
        cls.servers.append(server)
        return server.start()

    @classmethod
    def fresh(cls, name, smtp, language="en", extra=""):
        """A config in its own directory with a copy of the golden database; smtp is the
        smtp group's text (smtp_config()). Returns the config's path."""
        d = os.path.join(cls.tmp, name)
        os.makedirs(d, exist_ok=True)
        db = os.path.join(d, "redflagd.db")
        for suffix in ("", "-wal"):  # -shm is rebuilt from the WAL
            src = os.path.join(cls.golden, "redflagd.db" + suffix)
            if os.path.exists(src):
                shutil.copyfile(src, db + suffix)
                os.chmod(db + suffix, 0o600)
        return rig.redflagd_config(os.path.join(d, "rf.conf"), cls.dovecot, db=db,
                                   owner=genmail.OWNER_ADDR,
                                   extra=smtp + digest_config(language) + CLIENTS + extra)

    def rf_raw(self, conf, *args, env=None, timeout=120):
        """Runs redflagd with bytes output (the preview's CRLF must survive)."""
        e = dict(os.environ)
        e.pop("REDFLAGD_TEST_HOOK", None)
        e.update(env or {})
        return subprocess.run([harness.BIN, "-c", conf, *args], capture_output=True,
                              timeout=timeout, env=e)

    def digest_row(self, conf, period=PERIOD):
        """(message_id, prepared_at, transmitted_at, sent_at) or None."""
        rows = self.query(conf, "SELECT message_id, prepared_at, transmitted_at, sent_at "
                                "FROM digests WHERE period = ?", period)
        return rows[0] if rows else None


class DigestTest(DemoMailCase):

    @classmethod
    def extra_inbox(cls):
        return hostile_messages()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            # The one send most tests look at; the sink stays up so that a wrong second
            # send would arrive rather than fail.
            cls.sink = cls.serve(rig.SmtpSink(os.path.join(cls.tmp, "sink-main")))
            cls.conf = cls.fresh("main", smtp_config(cls.sink.port))
            # What --send would send, asked before it does (after a send, the preview shows
            # the next, forced, one).
            cls.preview = subprocess.run([harness.BIN, "-c", cls.conf, "digest", "--period",
                                          PERIOD, "--preview"], capture_output=True,
                                         timeout=120)
            cls.send = subprocess.run([harness.BIN, "-c", cls.conf, "digest", "--period",
                                       PERIOD, "--send"], capture_output=True, text=True,
                                      timeout=120)
            cls.received = cls.sink.messages()
        except BaseException:
            cls.tearDownClass()
            raise

    def sent(self):
        """The one message the first --send delivered, parsed."""
        self.assertEqual(self.send.returncode, 0,
                         f"digest --send exited {self.send.returncode}:\n{self.send.stderr}")
        self.assertEqual(len(self.received), 1, "exactly one message must arrive")
        return parse(self.received[0])

    def clients_json(self, conf=None):
        p = self.rf(conf or self.conf, "clients", "--json", "--period", PERIOD, timeout=60)
        return json.loads(p.stdout)

    # ---- the message

    def test_message_structure(self):
        msg = self.sent()
        for h in ("Date", "Message-ID", "From", "To", "Subject", "MIME-Version"):
            self.assertIsNotNone(msg[h], f"{h} header missing")
        self.assertEqual(msg["Subject"], SUBJECTS["en"])
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertEqual(msg["From"].addresses[0].addr_spec, SMTP_FROM)
        self.assertEqual(msg["To"].addresses[0].addr_spec, DIGEST_TO)
        self.assertIsNotNone(msg["Date"].datetime, "Date does not parse")
        self.assertRegex(str(msg["Message-ID"]), r"^<[^<>\s]+@[^<>\s]+>$")
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        kinds = [p.get_content_type() for p in msg.iter_parts()]
        self.assertEqual(sorted(kinds), ["text/html", "text/plain"], kinds)
        for p in msg.iter_parts():
            self.assertEqual(p.get_content_charset(), "utf-8", p.get_content_type())
            p.get_content()  # decodes (QP, UTF-8) without error
        self.assertEqual(self.sink_header(msg, "X-MailFrom"), SMTP_FROM)

    def test_recorded_as_sent(self):
        msg = self.sent()
        row = self.digest_row(self.conf)
        self.assertIsNotNone(row, "no digests row for the period")
        mid, prepared, transmitted, sent_at = row
        self.assertIsNotNone(prepared)
        self.assertIsNotNone(transmitted)
        self.assertIsNotNone(sent_at)
        self.assertEqual(mid.strip("<>"), str(msg["Message-ID"]).strip("<>"))

    def test_no_header_injection(self):
        msg = self.sent()
        self.assertIsNone(msg["Bcc"], "a Bcc header reached the digest")
        self.assertIsNone(msg["X-Injected"])
        self.assertEqual(self.sink_header(msg, "X-RcptTo"), DIGEST_TO,
                         "the server got other recipients than digest.to")
        raw_head = self.received[0].split(b"\n\n", 1)[0].replace(b"\r", b"")
        self.assertNotRegex(raw_head, rb"(?im)^(bcc|x-injected):")

    @staticmethod
    def sink_header(msg, name):
        vals = msg.get_all(name) or []
        return ", ".join(str(v) for v in vals)

    # ---- verdicts and content

    def test_verdicts(self):
        got = {c["name"]: c for c in self.clients_json()}
        for c in got.values():
            for key in ("name", "verdict", "red_share", "green_share", "threads",
                        "messages_in", "messages_out", "signals"):
                self.assertIn(key, c, f"clients --json: {c.get('name')} lacks {key}")
            self.assertIn(c["verdict"], VERDICT_LABEL_EN)
            self.assertIsInstance(c["signals"], dict)
        summary = {n: {k: got[n][k] for k in ("verdict", "red_share", "green_share",
                                              "threads", "signals")}
                   for n in EXPECTED_VERDICTS if n in got}
        for name, want in EXPECTED_VERDICTS.items():
            self.assertIn(name, got, f"{name} missing from clients --json")
            self.assertIn(got[name]["verdict"], want,
                          f"{name}: verdict {got[name]['verdict']}, designed {sorted(want)}\n"
                          + json.dumps(summary, indent=1, ensure_ascii=False))

    def test_text_names_every_client_with_verdict(self):
        text = self.sent_text()
        lines = text.splitlines()
        for c in self.clients_json():
            if c["threads"] == 0:
                continue
            label = VERDICT_LABEL_EN[c["verdict"]]
            hits = [ln for ln in lines if c["name"] in ln]
            self.assertTrue(hits, f"{c['name']} is not in the text part")
            self.assertTrue(any(re.search(rf"(?i)\b{re.escape(label)}\b", ln) for ln in hits),
                            f"no line names {c['name']} with its verdict '{label}':\n"
                            + "\n".join(hits))

    def test_text_has_evidence_excerpts(self):
        text = squash(self.sent_text())
        seen = 0
        for name in EXPECTED_VERDICTS:
            p = self.rf(self.conf, "client", name, "--json", "--period", PERIOD, timeout=60)
            c = json.loads(p.stdout)
            self.assertEqual(c["name"], name)
            evidence = c.get("evidence") or {}
            # Excerpts of words from mail, not the time signals' computed descriptions.
            excerpts = [squash(e["excerpt"].strip("… ")) for sig, items in evidence.items()
                        if sig not in TIME_SIGNALS for e in items if e.get("excerpt")]
            for items in evidence.values():
                for e in items:
                    self.assertRegex(e["date"], r"^\d{4}-\d\d-\d\d$")
            if not excerpts:
                continue
            # The text part cuts an evidence line at ~100 columns: a whole short excerpt,
            # or the first 40 characters of a long one, must be there.
            found = [x for x in excerpts if x in text or (len(x) > 40 and x[:40] in text)]
            self.assertTrue(found, f"none of {name}'s excerpts is in the text part: "
                                   f"{excerpts[:5]}")
            seen += 1
        self.assertGreaterEqual(seen, 3, "too few clients with evidence")

    def test_html_escapes_mail_content(self):
        html = self.sent_html()
        low = html.lower()
        self.assertNotIn("<script", low)
        self.assertNotIn("<img", low)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)
        # " may be &quot; or a numeric reference; = may be escaped too (&#61;).
        eq = r"(=|&#61;|&#x3d;|&equals;)"
        self.assertRegex(html, rf"(&quot;|&#34;|&#x22;)&gt;&lt;img src{eq}x onerror{eq}"
                               r"alert\(1\)&gt;")
        # Every onerror= is inside the escaped text, never an attribute.
        self.assertEqual(low.count("onerror="), low.count("&lt;img src=x onerror="))
        for bad in ("<iframe", "<link", "<object", "<embed", "<form", "javascript:", "url("):
            self.assertNotIn(bad, low)
        # No tag loads or links anything (the escaped mail text has no raw "<").
        for tag in re.findall(r"<[a-z][^>]*>", low):
            self.assertNotRegex(tag, r"\b(src|href|action|background|on[a-z]+)\s*=|https?:",
                                tag)

    def sent_text(self):
        text, _ = parts(self.sent())
        return text.get_content().replace("\r\n", "\n")

    def sent_html(self):
        _, html = parts(self.sent())
        return html.get_content()

    # ---- exactly once, preview

    def test_second_send_refused(self):
        self.sent()
        p = self.rf(self.conf, "digest", "--period", PERIOD, "--send", check=False, timeout=120)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("already sent", p.stderr)
        self.assertEqual(len(self.sink.messages()), 1, "a second digest was sent")

    def test_preview_equals_sent(self):
        msg = self.sent()
        p = self.preview
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        out = p.stdout
        self.assertIn(b"\r\n", out)
        self.assertEqual(out.replace(b"\r\n", b"").count(b"\n"), 0, "bare LF in the preview")
        prev = parse(out)

        def headers(m):
            return [(k.lower(), str(v)) for k, v in m.items()
                    if k.lower() not in SINK_HEADERS and k.lower() != "date"]
        self.assertEqual(headers(prev), headers(msg))
        self.assertIsNotNone(prev["Date"].datetime)
        # Part by part: headers, the encoded payload line for line (the sink's maildir
        # writes LF and may refold headers, so not the raw bytes) and the decoded text.
        self.assertEqual(len(list(prev.iter_parts())), len(list(msg.iter_parts())))
        for a, b in zip(prev.iter_parts(), msg.iter_parts()):
            self.assertEqual(headers(a), headers(b))
            self.assertEqual(a.get_payload(decode=False).replace("\r\n", "\n").rstrip(),
                             b.get_payload(decode=False).replace("\r\n", "\n").rstrip())
            self.assertEqual(a.get_content().replace("\r\n", "\n"),
                             b.get_content().replace("\r\n", "\n"))
        self.assertEqual(len(self.sink.messages()), 1, "--preview sent something")
        # Asked again after the send, the preview still sends nothing.
        p = self.rf_raw(self.conf, "digest", "--period", PERIOD, "--preview")
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        self.assertEqual(len(self.sink.messages()), 1, "--preview sent something")

    def test_preview_text(self):
        msg = self.sent()
        p = self.rf(self.conf, "digest", "--period", PERIOD, "--preview", "--text", timeout=60)
        want = parts(msg)[0].get_content().replace("\r\n", "\n")
        self.assertEqual(p.stdout.rstrip("\n"), want.rstrip("\n"))
        self.assertNotIn("Content-Type", p.stdout)

    def check_language(self, lang):
        conf = self.fresh(f"lang-{lang}", smtp_config(rig.free_port()), language=lang)
        p = self.rf_raw(conf, "digest", "--period", PERIOD, "--preview")
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        msg = parse(p.stdout)
        self.assertEqual(msg["Subject"], SUBJECTS[lang])
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        row = self.digest_row(conf)
        self.assertTrue(row is None or row[3] is None, "--preview recorded a sent digest")

    def test_language_da(self):
        self.check_language("da")

    def test_language_de(self):
        self.check_language("de")

    def test_language_en(self):
        self.check_language("en")

    # ---- a crash between the server's 250 and the commit

    def test_crash_after_send_is_not_repeated(self):
        sink = self.serve(rig.SmtpSink(os.path.join(self.tmp, "sink-crash")))
        conf = self.fresh("crash", smtp_config(sink.port))
        p = self.rf_raw(conf, "digest", "--period", PERIOD, "--send",
                        env={"REDFLAGD_TEST_HOOK": "crash-after-send"})
        self.assertEqual(p.returncode, -signal.SIGKILL,
                         f"the hook did not kill the process:\n{p.stderr.decode()}")
        self.assertEqual(len(sink.messages()), 1, "the server did not get the digest")
        row = self.digest_row(conf)
        self.assertIsNotNone(row, "no intent recorded before sending")
        self.assertIsNone(row[3], "sent_at set although the process died before the commit")
        self.assertIsNotNone(row[2], "transmitted_at not recorded at the end of DATA")

        p = self.rf(conf, "digest", "--period", PERIOD, "--send", check=False, timeout=120)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertRegex(p.stderr, r"(?i)may\b.*\b(already|delivered|sent)")
        self.assertEqual(len(sink.messages()), 1, "sent again after the crash")

        self.rf(conf, "digest", "--period", PERIOD, "--send", "--force", timeout=120)
        got = sink.messages()
        self.assertEqual(len(got), 2)
        row = self.digest_row(conf)
        self.assertIsNotNone(row[3])
        self.assertEqual(row[0].strip("<>"), str(parse(got[1])["Message-ID"]).strip("<>"))

    # ---- the run loop catches up once

    def test_run_catches_up_once(self):
        sink = self.serve(rig.SmtpSink(os.path.join(self.tmp, "sink-run")))
        conf = self.fresh("run", smtp_config(sink.port))
        want = latest_due_period()

        proc, err = self.rf_start(conf, "run")
        try:
            deadline = time.monotonic() + 60
            while not sink.messages() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1)  # a duplicate right behind the first would show now
            self.assertIsNone(proc.poll(), f"run exited {proc.returncode}:\n{_tail(err)}")
            got = sink.messages()
            self.assertEqual(len(got), 1, f"run sent {len(got)} digests:\n{_tail(err)}")
            self.assertEqual(parse(got[0])["Subject"], f"Client review {want}")
        finally:
            rc, in_time = self.stop_proc(proc)
        self.assertTrue(in_time, "run did not stop on SIGTERM")
        self.assertEqual(rc, 0, _tail(err))
        row = self.digest_row(conf, want)
        self.assertTrue(row and row[3] is not None, f"not recorded as sent: {row}")

        proc, err = self.rf_start(conf, "run")
        try:
            deadline = time.monotonic() + 10
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertIsNone(proc.poll(), f"run exited {proc.returncode}:\n{_tail(err)}")
            self.assertEqual(len(sink.messages()), 1, "run sent the digest again after a "
                                                      f"restart:\n{_tail(err)}")
        finally:
            rc, in_time = self.stop_proc(proc)
        self.assertTrue(in_time and rc == 0, f"exit {rc}\n{_tail(err)}")


def _tail(path, n=3000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


if __name__ == "__main__":
    unittest.main()
