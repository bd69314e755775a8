"""Onboarding and farewell mails end to end (issue 5): the real binary against Dovecot and an
SMTP sink (aiosmtpd) on loopback, every received mail parsed with Python's `email` package.

- AutoOnboardTest: a first `run` over a year-old mailbox of 20 clients with onboarding.auto
  switched on sends nothing; a new client's first mail, dated after that, gets exactly one
  mail in the client's language after the delay; restarts and `sync --once` add none.
- CapTest: four new clients at once under max_per_day = 2 get two mails, and the log says so.
- DryRunTest: dry_run = true logs "dry run" and sends nothing.
- SwitchOnTest: a client who wrote minutes before auto-onboarding was switched on (in a
  database that already existed) is not mailed; one who writes afterwards is.
- CommandsTest: `onboard --preview/--send/--force`, `--lang`, unknown addresses, `farewell`
  (never sent without --send), and CR/LF in a client name or a sender's display name never
  reaching a header.

The expected wording comes from conf/templates/*.tmpl themselves: every fixed word of the
Subject line and of the body outside {{#sections}} must be in what arrives, so the tests
follow the templates' text. Each class has its own Dovecot; every wait is bounded.
"""

import email
import email.policy
import json
import os
import quopri
import re
import subprocess
import time
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime

import harness
import rig

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.normpath(os.path.join(HERE, "..", "..", "conf", "templates"))
OWNER = harness.OWNER  # rig.redflagd_config's owner address, also smtp.from here
OWNER_NAME = "Test Owner"  # rig.redflagd_config's owner.name
DELAY = 2  # onboarding.delay in these tests (seconds)
SLACK = 20  # seconds beyond the delay an onboarding mail may take to arrive
SINK_HEADERS = {"x-peer", "x-mailfrom", "x-rcptto"}
TERMS = ("I answer mail within one working day, Monday to Friday.",
         "Two rounds of revisions are included; more are billed by the hour.")

NEU = ('clients = ( { name = "Neu GmbH"; match = ["@neu.example"]; language = "de"; } );\n')
ANNA = "anna@neu.example"
ALT = "lone@alt-as.example"  # CommandsTest's Danish client, for farewell --send
CMD_CLIENTS = ('clients = ( { name = "Neu GmbH"; match = ["@neu.example"]; language = "de"; },'
               ' { name = "Alt A/S"; match = ["@alt-as.example"]; language = "da"; } );\n')
DA_TEXT = ("Hej Mette,\n\ntak for de nye skitser. Kan du sende fakturaen til bogholderiet?\n\n"
           "Venlig hilsen\nLone\n")
ANNA_TEXT = ("Sehr geehrte Frau Holm,\n\nwir möchten gern mit Ihnen zusammenarbeiten: für "
             "unsere neue Website brauchen wir ein Logo und ein Farbkonzept. Könnten Sie uns "
             "bis nächste Woche ein Angebot schicken?\n\nViele Grüße aus Köln\nAnna Neumann\n")
EN_TEXT = ("Hi,\n\nwe are looking for a designer for our new brochure. Could you send us a "
           "quote and your availability for next month?\n\nBest regards\n{name}\n")


# ---- configs and mail

def write_conf(d, dovecot, smtp_port, auto=True, delay=DELAY, max_per_day=3, dry_run=False,
               clients=NEU, terms=TERMS):
    """A config in directory d (database beside it) for dovecot, with the smtp group aimed at
    127.0.0.1:smtp_port, the onboarding group, clients, need_reply = false (a new sender is
    a client at once) and owner.terms. Returns its path."""
    os.makedirs(d, exist_ok=True)
    onboarding = (f"onboarding = {{ auto = {str(auto).lower()}; delay = {delay}; "
                  f"max_per_day = {max_per_day}; dry_run = {str(dry_run).lower()}; }};\n")
    smtp = (f'smtp = {{ url = "smtp://127.0.0.1:{smtp_port}"; tls = "none"; from = "{OWNER}"; '
            f"timeout = 5; retries = 0; retry_delay = 1; }};\n")
    path = rig.redflagd_config(os.path.join(d, "rf.conf"), dovecot,
                               extra=smtp + onboarding + clients
                               + "client_policy = { need_reply = false; };\n")
    if terms:
        # rig.redflagd_config writes no owner.terms: add them to its owner group.
        with open(path, encoding="utf-8") as f:
            text = f.read()
        anchor = 'timezone = "Europe/Copenhagen";'
        assert anchor in text, "rig.redflagd_config's owner group changed"
        lines = ", ".join(json.dumps(t) for t in terms)
        text = text.replace(anchor, f"{anchor}\n          terms = ( {lines} );", 1)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return path


def client_mail(addr, text, subject, name=None, when=None, mid=None, display=None):
    """A client's plain-text mail (UTF-8, quoted-printable), dated now unless when is given.
    display: the From display name exactly as written in the header (e.g. RFC 2047)."""
    when = when or datetime.now(timezone.utc)
    mid = mid or f"<{time.time_ns()}.{addr.replace('@', '.')}@{addr.split('@')[1]}>"
    if display is None:
        display = Header(name or addr.split("@")[0], "utf-8").encode()
    body = quopri.encodestring(text.replace("\n", "\r\n").encode("utf-8")).decode("ascii")
    return (f"From: {display} <{addr}>\r\nTo: Mette Holm <{OWNER}>\r\n"
            f"Subject: {Header(subject, 'utf-8').encode()}\r\n"
            f"Date: {format_datetime(when)}\r\nMessage-ID: {mid}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{body}").encode("ascii")


def anna_mail(when=None):
    return client_mail(ANNA, ANNA_TEXT, "Anfrage: Logo und Farbkonzept", name="Anna Neumann",
                       when=when)


def automated_mails():
    """New senders that must never be onboarded: a no-reply address, an Auto-Submitted
    notification and a mailing-list post, all dated now."""
    now = format_datetime(datetime.now(timezone.utc))
    return [
        client_mail("no-reply@shop-neu.example", "Ihre Bestellung wurde versandt.\n",
                    "Versandbestätigung"),
        (f"From: Alerts <alerts@monitor-neu.example>\r\nTo: {OWNER}\r\nSubject: Disk 91%\r\n"
         f"Date: {now}\r\nMessage-ID: <a{time.time_ns()}@monitor-neu.example>\r\n"
         "Auto-Submitted: auto-generated\r\n\r\nThe disk is almost full.\r\n").encode(),
        (f"From: Jens <jens@forum-neu.example>\r\nTo: designers@forum-neu.example\r\n"
         f"Subject: [designers] Meetup\r\nDate: {now}\r\n"
         f"Message-ID: <l{time.time_ns()}@forum-neu.example>\r\n"
         "List-Id: Designers <designers.forum-neu.example>\r\n"
         "List-Unsubscribe: <mailto:leave@forum-neu.example>\r\n\r\nMeetup on Friday.\r\n"
         ).encode(),
    ]


# ---- templates: the expected wording

def read_template(kind, lang):
    """(subject line, body) of conf/templates/KIND.LANG.tmpl: a header block with
    "Subject:", an empty line, the body."""
    path = os.path.join(TEMPLATES, f"{kind}.{lang}.tmpl")
    if not os.path.exists(path):
        raise AssertionError(f"no template {path}")
    with open(path, encoding="utf-8") as f:
        text = f.read().replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    m = re.search(r"(?im)^Subject:[ \t]*(.*)$", head)
    if m is None:
        raise AssertionError(f"{path}: no Subject: line in the header block")
    return m.group(1), body


def fixed_words(line):
    """The words (3+ letters) of a template line outside its {{placeholders}}."""
    return re.findall(r"[^\W\d_]{3,}", re.sub(r"\{\{.*?\}\}", " ", line))


SECTION = re.compile(r"\{\{\s*#\s*([\w.]+)\s*\}\}.*?\{\{\s*/\s*\1\s*\}\}", re.S)


def unconditional_words(body):
    """The fixed words of a template body outside {{#section}}...{{/section}}: every one
    of them is in every rendered mail (wrapping moves only the spaces between them)."""
    words = fixed_words(SECTION.sub(" ", body))
    if not words:
        raise AssertionError("a template body without a single fixed word")
    return words


def squash(s):
    return " ".join(s.split())


# ---- received mail

def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def rcpts(msg):
    """The SMTP envelope recipients the sink saw (X-RcptTo), lower case."""
    return {a.strip().lower() for v in msg.get_all("X-RcptTo") or [] for a in str(v).split(",")
            if a.strip()}


def to_clients(raws):
    """The received mails with a recipient other than the owner: `run` also sends the due
    review digest, to the owner alone, into the same sink."""
    return [r for r in raws if rcpts(parse(r)) - {OWNER}]


def tail(path, n=3000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


class OnboardCase(harness.DovecotCase):
    """DovecotCase plus SMTP sinks that are stopped in tearDownClass."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.servers = []

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.stop()
        super().tearDownClass()

    @classmethod
    def serve(cls, name):
        sink = rig.SmtpSink(os.path.join(cls.tmp, name))
        cls.servers.append(sink)
        return sink.start()

    def rf_raw(self, conf, *args, timeout=120):
        """redflagd with bytes output (a preview's CRLF must survive)."""
        return subprocess.run([harness.BIN, "-c", conf, *args], capture_output=True,
                              timeout=timeout)

    def sync_done(self, conf, proc, timeout=60):
        """Polls `stats --json` (bounded) until every mailbox carries a checkpoint at the
        server's last UID."""
        want = {mb: max(self.dovecot.uids(mb), default=0) for mb in ("INBOX", "Sent")}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.assertIsNone(proc.poll(), "redflagd run exited during the sync")
            p = self.rf(conf, "stats", "--json", timeout=30, check=False)
            if p.returncode == 0:
                have = {m["mailbox"]: m["last_uid"] for m in json.loads(p.stdout)["mailboxes"]}
                if all(have.get(mb, -1) >= uid for mb, uid in want.items()):
                    return
            time.sleep(0.2)
        self.fail(f"the sync did not reach the server's last UIDs within {timeout} s")

    def stop_run(self, proc, err):
        rc, in_time = self.stop_proc(proc)
        self.assertTrue(in_time, "run ignored SIGTERM for 10 s:\n" + tail(err))
        self.assertEqual(rc, 0, "run did not exit 0 on SIGTERM:\n" + tail(err))

    def wait_sink(self, sink, n, timeout, proc=None, err=None):
        """Waits (bounded) until sink holds at least n mails to clients; returns them."""
        deadline = time.monotonic() + timeout
        while len(to_clients(sink.messages())) < n and time.monotonic() < deadline:
            if proc is not None:
                self.assertIsNone(proc.poll(), f"run exited {proc.returncode}:\n{tail(err)}")
            time.sleep(0.2)
        return to_clients(sink.messages())

    def outbox(self, conf):
        rows = self.try_query(conf, "SELECT kind, lang, message_id, sent_at, rcpt FROM outbox "
                                   "WHERE kind IN ('onboarding', 'farewell')")
        self.assertIsNotNone(rows, "no outbox table with the contract's columns")
        return rows

    def clients_json(self, conf):
        return json.loads(self.rf(conf, "clients", "--json", timeout=60).stdout)

    def check_headers(self, msg, to_addr):
        """The headers every onboarding/farewell mail carries; one To, no Bcc."""
        for h in ("Date", "Message-ID", "From", "To", "Subject", "MIME-Version"):
            self.assertIsNotNone(msg[h], f"{h} header missing")
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertIsNotNone(msg["Date"].datetime, "Date does not parse")
        self.assertRegex(str(msg["Message-ID"]), r"^<[^<>\s]+@[^<>\s]+>$")
        self.assertEqual(msg["From"].addresses[0].addr_spec, OWNER)
        self.assertEqual(msg["From"].addresses[0].display_name, OWNER_NAME)
        self.assertEqual(len(msg.get_all("To")), 1, "more than one To header")
        tos = [a.addr_spec.lower() for a in msg["To"].addresses]
        self.assertEqual(tos, [to_addr], "To must name exactly the client's address")
        self.assertIsNone(msg["Cc"], "a Cc header")
        self.assertIsNone(msg["Bcc"], "a Bcc header: the owner's copy belongs in the envelope")
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertEqual(msg.get_content_charset(), "utf-8")
        self.assertEqual(msg["Content-Transfer-Encoding"].lower(), "quoted-printable")

    def check_template_text(self, msg, kind, lang, client_name=None):
        """Subject and body follow conf/templates/KIND.LANG.tmpl, placeholders filled."""
        tsubj, tbody = read_template(kind, lang)
        subject = str(msg["Subject"])
        body = msg.get_content()
        flat = squash(body)
        self.assertNotIn("{{", subject + body, "an unfilled placeholder")
        for w in fixed_words(tsubj):
            self.assertIn(w, subject, f"Subject {subject!r} lacks {w!r} of {kind}.{lang}'s "
                                      f"{tsubj!r}")
        for w in unconditional_words(tbody):
            self.assertIn(w, flat, f"the body lacks {w!r} of {kind}.{lang}.tmpl:\n"
                                   f"{body[:2000]}")
        if client_name and "{{client.name}}" in tsubj + tbody:
            self.assertIn(client_name, subject + flat)
        if "{{owner.name}}" in tsubj + tbody:
            self.assertIn(OWNER_NAME, subject + flat)
        if kind == "onboarding" and "{{terms}}" in tbody:
            for t in TERMS:
                self.assertIn(squash(t), flat, "owner.terms missing from the body")
        return subject, body

    def check_onboarding(self, raw, to_addr, lang, client_name):
        """One received onboarding mail: headers, envelope (client + owner), language."""
        msg = parse(raw)
        self.check_headers(msg, to_addr)
        self.assertEqual(rcpts(msg), {to_addr, OWNER},
                         "envelope recipients: the client and the owner's copy")
        self.assertEqual(str(msg["X-MailFrom"]).lower(), OWNER)
        raw_head = raw.split(b"\n\n", 1)[0].replace(b"\r", b"")
        self.assertNotRegex(raw_head, rb"(?im)^bcc:")
        self.check_template_text(msg, "onboarding", lang, client_name)
        return msg


class AutoOnboardTest(OnboardCase):
    """(a) first import: nothing sent; (b) a new client: exactly one, after the delay, in
    German; (c) restart and re-sync: still one."""

    def test_first_import_silent_then_one_mail_per_new_client(self):
        inbox, sent = harness.make_mailbox(seed=5, n_inbox=120, n_clients=20)
        self.dovecot.deliver_many("INBOX", inbox)
        self.dovecot.deliver_many("Sent", sent)
        sink = self.serve("sink")
        conf = write_conf(os.path.join(self.tmp, "auto"), self.dovecot, sink.port)

        # (a) The first import of old mail with auto = true: zero mails.
        proc, err = self.rf_start(conf, "run")
        try:
            self.sync_done(conf, proc)
            time.sleep(DELAY + 5)
            self.assertIsNone(proc.poll(), f"run exited:\n{tail(err)}")
            self.assertEqual(len(to_clients(sink.messages())), 0,
                             "the first import mailed existing clients:\n" + tail(err))
        finally:
            self.stop_run(proc, err)
        old = self.clients_json(conf)
        self.assertGreaterEqual(len(old), 20, "the 20 clients of the mailbox were not imported")
        for c in old:
            self.assertIn("onboarded", c, f"clients --json: {c['name']} lacks onboarded")
            self.assertIsNone(c["onboarded"], f"{c['name']} counts as onboarded")
        self.assertEqual(self.outbox(conf), [])

        # (b) A new client writes (dated now, after auto-onboarding was first seen on) while
        # the daemon is down, together with automated senders and a list; then run starts:
        # the switch-on moment is the one recorded, not this start.
        time.sleep(1.1)
        self.dovecot.append("INBOX", anna_mail())
        t_mail = time.time()
        self.dovecot.append_many("INBOX", automated_mails())
        proc, err = self.rf_start(conf, "run")
        try:
            got = self.wait_sink(sink, 1, DELAY + SLACK, proc, err)
            took = time.time() - t_mail
            self.assertEqual(len(got), 1, f"no onboarding mail within {DELAY + SLACK} s:\n"
                                          + tail(err))
            self.assertGreaterEqual(took, DELAY - 1.5, "sent before onboarding.delay was over")
            time.sleep(DELAY + 3)  # a duplicate or a mail to an automated sender shows now
            self.assertIsNone(proc.poll(), f"run exited:\n{tail(err)}")
        finally:
            self.stop_run(proc, err)
        got = to_clients(sink.messages())
        self.assertEqual(len(got), 1, f"{len(got)} mails, want exactly one:\n"
                         + "\n".join(str(parse(r)["X-RcptTo"]) for r in got))
        msg = self.check_onboarding(got[0], ANNA, "de", "Neu GmbH")
        rows = self.outbox(conf)
        self.assertEqual(len(rows), 1, rows)
        kind, lang, mid, sent_at, rcpt = rows[0]
        self.assertEqual((kind, lang), ("onboarding", "de"))
        self.assertIsNotNone(sent_at, "outbox.sent_at not set after the send")
        self.assertEqual(mid.strip("<>"), str(msg["Message-ID"]).strip("<>"))
        self.assertIn(ANNA, (rcpt or "").lower())
        neu = [c for c in self.clients_json(conf) if c["name"] == "Neu GmbH"]
        self.assertEqual(len(neu), 1, "Neu GmbH not in clients --json")
        today = {datetime.now(timezone.utc).date().isoformat(),
                 datetime.now(timezone(timedelta(hours=1))).date().isoformat(),
                 datetime.now(timezone(timedelta(hours=2))).date().isoformat()}
        self.assertIn(neu[0]["onboarded"], today)

        # (c) Restart and re-sync: still one.
        proc, err = self.rf_start(conf, "run")
        try:
            self.sync_done(conf, proc)
            time.sleep(DELAY + 3)
            self.assertIsNone(proc.poll(), f"run exited:\n{tail(err)}")
        finally:
            self.stop_run(proc, err)
        self.rf(conf, "sync", "--once")
        self.assertEqual(len(to_clients(sink.messages())), 1,
                         "sent again after a restart or re-sync")
        self.assertEqual(len(self.outbox(conf)), 1)


class CapTest(OnboardCase):
    """(d) max_per_day = 2 and four new clients at once: two mails, and the log says why."""

    def test_cap_per_day(self):
        inbox, sent = harness.make_mailbox(seed=7, n_inbox=30, n_clients=5)
        self.dovecot.deliver_many("INBOX", inbox)
        self.dovecot.deliver_many("Sent", sent)
        sink = self.serve("sink")
        conf = write_conf(os.path.join(self.tmp, "cap"), self.dovecot, sink.port,
                          max_per_day=2)
        new = [f"kontakt@neukunde{i}.example" for i in range(1, 5)]
        proc, err = self.rf_start(conf, "run")
        try:
            self.sync_done(conf, proc)
            time.sleep(1.1)  # dated clearly after auto-onboarding was first seen on
            # Appended while run IDLEs: each is fetched at once.
            self.dovecot.append_many("INBOX", [
                client_mail(a, EN_TEXT.format(name=f"Client {i}"), f"Brochure quote {i}",
                            name=f"Client {i}") for i, a in enumerate(new, 1)])
            got = self.wait_sink(sink, 2, DELAY + SLACK, proc, err)
            time.sleep(DELAY + 5)  # a third would arrive now
            self.assertIsNone(proc.poll(), f"run exited:\n{tail(err)}")
        finally:
            self.stop_run(proc, err)
        got = to_clients(sink.messages())
        self.assertEqual(len(got), 2, f"max_per_day = 2, {len(got)} mails sent:\n" + tail(err))
        to = [parse(r)["To"].addresses[0].addr_spec.lower() for r in got]
        self.assertEqual(len(set(to)), 2, f"the same client twice: {to}")
        self.assertTrue(set(to) <= set(new), to)
        for raw, addr in zip(got, to):
            self.check_onboarding(raw, addr, "en", None)
        self.assertRegex(tail(err, 20000), r"(?i)max_per_day|per day|cap|limit",
                         "the log does not say the daily cap was reached")

        # The cap is per rolling 24 h: a restart does not reset it.
        proc, err = self.rf_start(conf, "run")
        try:
            self.sync_done(conf, proc)
            time.sleep(DELAY + 3)
        finally:
            self.stop_run(proc, err)
        self.assertEqual(len(to_clients(sink.messages())), 2, "a restart lifted the daily cap")


class DryRunTest(OnboardCase):
    """(f) dry_run = true: the log says what would be sent; nothing is sent or recorded."""

    def test_dry_run_sends_nothing(self):
        self.dovecot.append("INBOX", client_mail(
            "old@altkunde.example", EN_TEXT.format(name="Old"), "Old project",
            when=datetime(2025, 3, 3, 10, 0, tzinfo=timezone.utc)))
        sink = self.serve("sink")
        conf = write_conf(os.path.join(self.tmp, "dry"), self.dovecot, sink.port,
                          dry_run=True)
        proc, err = self.rf_start(conf, "run")
        try:
            self.sync_done(conf, proc)
            time.sleep(1.1)
            self.dovecot.append("INBOX", anna_mail())
            deadline = time.monotonic() + DELAY + SLACK
            while "dry run" not in tail(err, 20000) and time.monotonic() < deadline:
                self.assertIsNone(proc.poll(), f"run exited:\n{tail(err)}")
                time.sleep(0.2)
            time.sleep(1)
        finally:
            self.stop_run(proc, err)
        log = tail(err, 20000)
        lines = [ln for ln in log.splitlines() if "dry run" in ln]
        self.assertTrue(lines, "no \"dry run\" line on stderr:\n" + log[-3000:])
        self.assertTrue(any(ANNA in ln or "Neu GmbH" in ln for ln in lines),
                        "the dry-run line names neither the client nor the address:\n"
                        + "\n".join(lines))
        self.assertFalse(any("altkunde" in ln for ln in lines), "an old client in the log")
        self.assertEqual(len(to_clients(sink.messages())), 0, "dry run sent mail")
        sent = [r for r in self.outbox(conf) if r[3] is not None]
        self.assertEqual(sent, [], "dry run recorded a sent mail")


class SwitchOnTest(OnboardCase):
    """A client whose first mail came in before auto-onboarding was switched on is never
    mailed automatically, however recent that mail; one who writes afterwards is."""

    def test_only_clients_after_switch_on(self):
        sink = self.serve("sink")
        self.dovecot.append("INBOX", anna_mail())  # dated now, within the delay
        off = write_conf(os.path.join(self.tmp, "sw"), self.dovecot, sink.port, auto=False)
        self.rf(off, "sync", "--once")
        time.sleep(1.1)
        on = write_conf(os.path.join(self.tmp, "sw"), self.dovecot, sink.port, auto=True)
        self.assertEqual(on, off)
        proc, err = self.rf_start(on, "run")
        try:
            self.sync_done(on, proc)
            time.sleep(DELAY + 4)
            self.assertEqual(to_clients(sink.messages()), [],
                             "a client from before the switch-on was mailed:\n" + tail(err))
            time.sleep(1.1)
            # Proof that auto-onboarding is on at all: a client who writes now is mailed.
            self.dovecot.append("INBOX", client_mail(
                "info@spaeter.example", EN_TEXT.format(name="Later"), "Quote", name="Later"))
            got = self.wait_sink(sink, 1, DELAY + SLACK, proc, err)
            time.sleep(1)
        finally:
            self.stop_run(proc, err)
        got = to_clients(sink.messages())
        self.assertEqual(len(got), 1, f"{len(got)} mails:\n" + tail(err))
        self.check_onboarding(got[0], "info@spaeter.example", "en", None)


class CommandsTest(OnboardCase):
    """`onboard` and `farewell` by hand: preview, send once, --force, --lang, usage errors,
    unknown addresses, and no header injection."""

    EVIL_NAME_CONF = "Evil\\r\\nBcc: x@y.example"  # libconfig escapes: CR LF in the value
    EVIL_DISPLAY = "=?UTF-8?Q?Boss=0D=0ABcc:_victim@evil2.example=0D=0AX-Injected:_yes?="

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            old = datetime(2026, 1, 12, 9, 30, tzinfo=timezone.utc)
            cls.dovecot.append_many("INBOX", [
                anna_mail(when=old),
                client_mail("boss@evil.example", EN_TEXT.format(name="Boss"), "Quote please",
                            when=old + timedelta(hours=1), display=cls.EVIL_DISPLAY),
                client_mail(ALT, DA_TEXT, "Skitser og faktura", name="Lone Holt",
                            when=old - timedelta(days=400)),
            ])
            cls.sink = cls.serve("sink")
            cls.conf = write_conf(os.path.join(cls.tmp, "cmd"), cls.dovecot, cls.sink.port,
                                  auto=False, clients=CMD_CLIENTS)
            p = subprocess.run([harness.BIN, "-c", cls.conf, "sync", "--once"],
                               capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                raise RuntimeError(f"sync --once exited {p.returncode}:\n{p.stderr}")
        except BaseException:
            cls.tearDownClass()
            raise

    def preview(self, *args, conf=None):
        """Runs a --preview command; checks exit 0, CRLF lines, nothing sent; returns the
        parsed mail."""
        before = len(self.sink.messages())
        p = self.rf_raw(conf or self.conf, *args)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        out = p.stdout
        self.assertIn(b"\r\n", out, "the preview is not CRLF text")
        self.assertEqual(out.replace(b"\r\n", b"").count(b"\n"), 0, "bare LF in the preview")
        self.assertEqual(len(self.sink.messages()), before, "--preview sent mail")
        return parse(out)

    # ---- onboard

    def test_onboard_preview_german(self):
        msg = self.preview("onboard", "Neu GmbH", "--preview")
        self.check_headers(msg, ANNA)
        self.check_template_text(msg, "onboarding", "de", "Neu GmbH")

    def test_onboard_preview_lang_en(self):
        msg = self.preview("onboard", ANNA, "--lang", "en", "--preview")
        self.check_headers(msg, ANNA)
        self.check_template_text(msg, "onboarding", "en", "Neu GmbH")

    def test_onboard_not_a_client(self):
        before = len(self.sink.messages())
        for mode in ("--preview", "--send"):
            p = self.rf(self.conf, "onboard", "nobody@nowhere.example", mode, check=False)
            self.assertEqual(p.returncode, 1, f"onboard {mode} of a stranger:\n{p.stderr}")
            self.assertRegex(p.stderr, r"(?i)nowhere\.example|no client|not a client",
                             "no clear message")
        self.assertEqual(len(self.sink.messages()), before)

    def test_onboard_bad_usage(self):
        before = len(self.sink.messages())
        for args in (("onboard", "Neu GmbH", "--lang", "fr", "--preview"),
                     ("onboard", "Neu GmbH", "--lang", "fr", "--send"),
                     ("onboard", "Neu GmbH", "--preview", "--send")):
            p = self.rf(self.conf, *args, check=False)
            self.assertNotEqual(p.returncode, 0, f"{args} succeeded")
        self.assertEqual(len(self.sink.messages()), before, "a bad command line sent mail")

    def test_onboard_send_once_then_force(self):
        prev = self.preview("onboard", ANNA, "--preview")
        before = len(self.sink.messages())
        p = self.rf(self.conf, "onboard", ANNA, "--send", check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = self.sink.messages()
        self.assertEqual(len(got), before + 1, "onboard --send did not deliver one mail")
        msg = self.check_onboarding(got[-1], ANNA, "de", "Neu GmbH")
        self.assertEqual(prev.get_content().replace("\r\n", "\n").rstrip(),
                         msg.get_content().replace("\r\n", "\n").rstrip(),
                         "--preview differs from what was sent")
        self.assertEqual(str(prev["Subject"]), str(msg["Subject"]))

        p = self.rf(self.conf, "onboard", "Neu GmbH", "--send", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("already sent", p.stderr)
        self.assertEqual(len(self.sink.messages()), before + 1, "sent twice")

        p = self.rf(self.conf, "onboard", "Neu GmbH", "--send", "--force", check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = self.sink.messages()
        self.assertEqual(len(got), before + 2, "--force did not send again")
        self.check_onboarding(got[-1], ANNA, "de", "Neu GmbH")
        onb = [r for r in self.outbox(self.conf) if r[0] == "onboarding" and r[3] is not None]
        self.assertGreaterEqual(len(onb), 1)
        self.assertIn(str(parse(got[-1])["Message-ID"]).strip("<>"),
                      [r[2].strip("<>") for r in onb], "the forced send is not in outbox")
        neu = [c for c in self.clients_json(self.conf) if c["name"] == "Neu GmbH"]
        self.assertRegex(neu[0].get("onboarded") or "", r"^\d{4}-\d\d-\d\d$")

    # ---- farewell

    def test_farewell_preview_sends_nothing(self):
        msg = self.preview("farewell", "Neu GmbH", "--preview")
        self.check_headers(msg, ANNA)
        subject, body = self.check_template_text(msg, "farewell", "de", "Neu GmbH")
        self.assertIn("Neu GmbH", subject + squash(body), "the client's name is not in it")
        self.assertEqual([r for r in self.outbox(self.conf) if r[0] == "farewell"
                          and r[3] is not None and ANNA in (r[4] or "")], [])

    def test_farewell_preview_options(self):
        handover = "Alle offenen Dateien liegen im gemeinsamen Ordner „Übergabe“."
        colleague = "Jonas Beispiel, jonas@beispiel.example"
        msg = self.preview("farewell", "Neu GmbH", "--lang", "en", "--end", "2026-06-30",
                           "--handover", handover, "--colleague", colleague, "--preview")
        self.check_headers(msg, ANNA)
        _, body = self.check_template_text(msg, "farewell", "en", "Neu GmbH")
        flat = squash(body)
        self.assertIn(squash(handover), flat, "--handover text missing")
        self.assertIn("Jonas Beispiel", flat, "--colleague text missing")
        self.assertRegex(flat, r"2026-06-30|30\.0?6\.2026|30 June 2026|June 30, 2026|"
                               r"30/0?6/2026|06/30/2026", "--end date missing")

    def test_farewell_needs_preview_or_send(self):
        before = len(self.sink.messages())
        for args in (("farewell", "Neu GmbH"), ("farewell", "Neu GmbH", "--force"),
                     ("farewell", "Neu GmbH", "--end", "2026-06-30")):
            p = self.rf(self.conf, *args, check=False)
            self.assertEqual(p.returncode, 2, f"{args}: want a usage error\n{p.stderr}")
        self.assertEqual(len(self.sink.messages()), before, "farewell sent without --send")
        self.assertEqual([r for r in self.outbox(self.conf)
                          if r[0] == "farewell" and ANNA in (r[4] or "")], [])

    def test_farewell_send_once(self):
        before = len(self.sink.messages())
        p = self.rf(self.conf, "farewell", "Alt A/S", "--end", "2026-12-31", "--send",
                    check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = self.sink.messages()
        self.assertEqual(len(got), before + 1, "farewell --send did not deliver one mail")
        msg = parse(got[-1])
        self.check_headers(msg, ALT)
        self.assertEqual(rcpts(msg), {ALT, OWNER},
                         "envelope recipients: the client and the owner's copy")
        _, body = self.check_template_text(msg, "farewell", "da", "Alt A/S")
        self.assertRegex(squash(body), r"31\. december 2026|2026-12-31|31\.12\.2026")
        rows = [r for r in self.outbox(self.conf) if r[0] == "farewell" and r[3] is not None]
        self.assertEqual([r[2].strip("<>") for r in rows],
                         [str(msg["Message-ID"]).strip("<>")])
        p = self.rf(self.conf, "farewell", "Alt A/S", "--end", "2026-12-31", "--send",
                    check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("already sent", p.stderr)
        self.assertEqual(len(self.sink.messages()), before + 1, "farewell sent twice")

    # ---- (h) header injection

    def test_no_header_injection(self):
        """CR LF in a configured client name (libconfig's "\\r\\n" escapes) and in the
        RFC 2047 display name of the client's first mail: one To, no Bcc, no extra
        header, and the envelope holds only the client and the owner."""
        evil = ('clients = ( { name = "Neu GmbH"; match = ["@neu.example"]; language = "de"; },'
                f' {{ name = "{self.EVIL_NAME_CONF}"; match = ["@evil.example"]; '
                'language = "en"; } );\n')
        conf = write_conf(os.path.join(self.tmp, "inject"), self.dovecot, self.sink.port,
                          auto=False, clients=evil)
        p = self.rf(conf, "check-config", check=False)
        if p.returncode != 0:
            self.skipTest("the config with CR LF in a client name is refused, so it cannot "
                          f"reach a header: {p.stderr.strip()[:300]}")
        self.rf(conf, "sync", "--once")
        before = len(self.sink.messages())
        # By address: an argument with "@" is read as an address, and this name has one.
        for kind in ("onboard", "farewell"):
            p = self.rf_raw(conf, kind, "boss@evil.example", "--preview")
            self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
            self.check_clean(p.stdout, parse(p.stdout))
        p = self.rf(conf, "onboard", "boss@evil.example", "--send", check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = self.sink.messages()
        self.assertEqual(len(got), before + 1)
        msg = parse(got[-1])
        self.check_clean(got[-1], msg)
        self.assertEqual(rcpts(msg), {"boss@evil.example", OWNER},
                         "the injected Bcc reached the envelope")

    def check_clean(self, raw, msg):
        self.check_headers(msg, "boss@evil.example")
        self.assertIsNone(msg["X-Injected"])
        raw_head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
        self.assertNotRegex(raw_head, rb"(?im)^(bcc|x-injected):")
        for k, v in msg.items():
            if k.lower() not in SINK_HEADERS:
                self.assertNotRegex(str(v), r"[\r\n]", f"CR/LF in {k}")
