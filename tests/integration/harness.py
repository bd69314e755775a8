"""Shared pieces of the integration tests: running the real binary, reading its database,
and a small seeded generator of realistic client mail.
"""

import base64
import json
import os
import random
import signal
import sqlite3
import subprocess
import tempfile
import unittest
from email.header import Header
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import rig

BIN = os.environ.get("REDFLAGD", "build/redflagd")


def _sanitized(path):
    """True for a binary built with AddressSanitizer (its shadow memory makes RSS figures
    meaningless)."""
    try:
        with open(path, "rb") as f:
            return b"libasan.so" in f.read()
    except OSError:
        return False


SANITIZED = _sanitized(BIN)
OWNER = "owner@studio.test"
CORPUS = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared",
                                       "corpus"))


class DovecotCase(unittest.TestCase):
    """One Dovecot and one scratch directory per test class."""

    cert = "good"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rf-it-")
        cls.dovecot = rig.Dovecot(os.path.join(cls.tmp, "dovecot"), cert=cls.cert).start()

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()
        rig.rmtree(cls.tmp)

    def config(self, name="rf.conf", tls="none", db=None, **kw):
        """Writes a config (own directory per name) and returns its path."""
        d = os.path.join(self.tmp, name.replace(".conf", ""))
        os.makedirs(d, exist_ok=True)
        db = db or os.path.join(d, "redflagd.db")
        return rig.write_config(os.path.join(d, name), self.dovecot, db, tls=tls, **kw)

    def rf(self, conf, *args, timeout=300, check=True):
        """Runs redflagd -c conf args... (bounded by timeout); returns the CompletedProcess."""
        p = subprocess.run([BIN, "-c", conf, *args], capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            self.fail(f"redflagd {' '.join(args)} exited {p.returncode}:\n{p.stderr}")
        return p

    def rf_start(self, conf, *args):
        """Starts redflagd -c conf args... in the background. Its stderr goes to a file (a
        pipe nobody reads would stall a chatty daemon); returns (Popen, stderr path)."""
        err = os.path.join(os.path.dirname(conf), f"stderr-{len(os.listdir(os.path.dirname(conf)))}")
        with open(err, "w") as f:
            proc = subprocess.Popen([BIN, "-c", conf, *args], stdout=subprocess.DEVNULL,
                                    stderr=f)
        return proc, err

    @staticmethod
    def stop_proc(proc, sig=signal.SIGTERM, timeout=10):
        """Sends sig and waits (bounded); SIGKILL after timeout. Returns the exit code and
        whether it exited in time."""
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout), True
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(), False

    def stats(self, conf):
        return json.loads(self.rf(conf, "stats", "--json").stdout)

    @staticmethod
    def db_path(conf):
        return os.path.join(os.path.dirname(conf), "redflagd.db")

    def query(self, conf, sql, *params):
        """Runs sql on the test's database read-only (opening it never creates it)."""
        con = sqlite3.connect(f"file:{self.db_path(conf)}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def try_query(self, conf, sql, *params, default=None):
        """query(), or default while the database or its tables do not exist yet."""
        try:
            return self.query(conf, sql, *params)
        except sqlite3.OperationalError:
            return default


# ---- a small, seeded generator of client mail (the bench has the big one) ----

GREETINGS = {"en": "Hi {n},", "de": "Hallo {n},", "da": "Hej {n},"}
BODIES = {
    "en": ["Could you send the revised layout by Friday? The board meets next week.",
           "Thanks for the drafts, they look great. We would like a few more variants.",
           "The invoice is attached. Payment terms as agreed, 14 days."],
    "de": ["Könnten Sie uns die Entwürfe bis Freitag schicken? Grüße aus Köln.",
           "Vielen Dank für die schnelle Hilfe, die Präsentation war ein Erfolg.",
           "Anbei die Rechnung. Zahlbar innerhalb von 14 Tagen, wie besprochen."],
    "da": ["Kan du sende de nye skitser på fredag? Vi glæder os til at se dem.",
           "Tusind tak for hjælpen, kunden var meget glad for præsentationen.",
           "Fakturaen er vedhæftet. Betaling inden for 14 dage som aftalt."],
}
CHARSETS = {"en": ["us-ascii", "utf-8"], "de": ["utf-8", "iso-8859-1", "iso-8859-15"],
            "da": ["utf-8", "iso-8859-1", "windows-1252"]}


def _qp_or_b64(text, charset, rnd):
    raw = text.encode(charset, errors="replace")
    if rnd.random() < 0.5:
        return "base64", base64.encodebytes(raw).decode()
    import quopri
    return "quoted-printable", quopri.encodestring(raw).decode()


def make_mailbox(seed=1, n_inbox=300, n_clients=20, attach_marker=None):
    """Returns (inbox, sent): lists of raw messages (bytes). Every message has a unique
    Message-ID; a share of them carry attachments; some are newsletters."""
    rnd = random.Random(seed)
    langs = ["en", "de", "da"]
    clients = []
    for i in range(n_clients):
        lang = langs[i % 3]
        dom = f"client{i:02d}.example" if i % 5 else "gmail.com"
        name = ["Anna Berg", "Jörg Müller", "Søren Ødegård", "Kate Long", "Lars Nørby"][i % 5]
        local = f"person{i:02d}"
        clients.append((name, f"{local}@{dom}", lang))
    inbox, sent = [], []
    t0 = datetime(2025, 1, 6, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    for k in range(n_inbox):
        name, addr, lang = clients[k % n_clients]
        when = t0 + timedelta(hours=k * 7 + rnd.randint(0, 5))
        mid = f"<m{seed}-{k}@{addr.split('@')[1]}>"
        subj = {"en": "Project update", "de": "Rückfrage zum Entwurf",
                "da": "Spørgsmål om skitserne"}[lang] + f" #{k}"
        body = GREETINGS[lang].format(n="Mette") + "\n\n" + rnd.choice(BODIES[lang]) + "\n\n" + name
        cs = rnd.choice(CHARSETS[lang])
        cte, payload = _qp_or_b64(body, cs, rnd) if cs != "us-ascii" else ("7bit", body)
        hdr = (f"From: {Header(name, 'utf-8').encode()} <{addr}>\r\nTo: Mette <{OWNER}>\r\n"
               f"Subject: {Header(subj, 'utf-8').encode()}\r\nDate: {format_datetime(when)}\r\n"
               f"Message-ID: {mid}\r\nMIME-Version: 1.0\r\n")
        if attach_marker and k % 10 == 3:
            att = (f"{attach_marker} " * 2000).encode()
            bnd = f"b{k}"
            msg = (hdr + f'Content-Type: multipart/mixed; boundary="{bnd}"\r\n\r\n'
                   f"--{bnd}\r\nContent-Type: text/plain; charset={cs}\r\n"
                   f"Content-Transfer-Encoding: {cte}\r\n\r\n{payload}\r\n"
                   f"--{bnd}\r\nContent-Type: text/plain; name=notes.txt\r\n"
                   f"Content-Disposition: attachment; filename=notes.txt\r\n\r\n"
                   f"{att.decode()}\r\n--{bnd}\r\nContent-Type: application/pdf; name=a.pdf\r\n"
                   f"Content-Transfer-Encoding: base64\r\n"
                   f"Content-Disposition: attachment; filename=a.pdf\r\n\r\n"
                   f"{base64.encodebytes(rnd.randbytes(60000)).decode()}\r\n--{bnd}--\r\n")
        else:
            msg = hdr + (f"Content-Type: text/plain; charset={cs}\r\n"
                         f"Content-Transfer-Encoding: {cte}\r\n\r\n{payload}")
        inbox.append(msg.encode("ascii", errors="replace") if cte != "7bit" else msg.encode())
        if k % 4 == 0:  # the owner replies to a quarter of the mail
            reply = (f"From: Mette Holm <{OWNER}>\r\nTo: {addr}\r\nSubject: Re: {subj}\r\n"
                     f"Date: {format_datetime(when + timedelta(hours=2))}\r\n"
                     f"Message-ID: <r{seed}-{k}@studio.test>\r\nIn-Reply-To: {mid}\r\n"
                     f"References: {mid}\r\nMIME-Version: 1.0\r\n"
                     f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
                     f"Thanks, will do.\r\n\r\nOn {format_datetime(when)}, {name} wrote:\r\n> quoted\r\n")
            sent.append(reply.encode())
        if k % 25 == 7:  # a newsletter: never a client
            inbox.append((f"From: News <no-reply@shop.example>\r\nTo: {OWNER}\r\n"
                          f"Subject: Weekly offers {k}\r\nDate: {format_datetime(when)}\r\n"
                          f"Message-ID: <n{seed}-{k}@shop.example>\r\n"
                          f"List-Unsubscribe: <mailto:unsub@shop.example>\r\n"
                          f"Precedence: bulk\r\n\r\n50% off everything.\r\n").encode())
    return inbox, sent


def server_uids(dovecot, mailboxes=("INBOX", "Sent")):
    return {mb: dovecot.uids(mb) for mb in mailboxes}
