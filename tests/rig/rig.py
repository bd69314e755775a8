"""Throwaway servers on loopback for redflagd's tests, demo and benchmarks.

Dovecot runs from a config in a temporary directory (nothing in /etc is touched), with a CA
and certificates made by openssl at start-up, on ports picked at random on 127.0.0.1.
Standard library only; run with Debian's /usr/bin/python3.

    with Dovecot(workdir) as d:
        d.append("INBOX", raw_bytes)
        redflagd_config(path, d, db=...)
"""

import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid

LOOPBACK = "127.0.0.1"
USER = "owner"
PASSWORD = "secret"
MAX_MESSAGES = 100000  # ceiling for one append_many/deliver_many call


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    """Waits until something accepts connections on port (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {LOOPBACK}:{port} after {timeout} s")


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name):
    """A self-signed CA: d/name.pem and d/name.key."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", f"{name}.key", "-out", f"{name}.pem",
             "-subj", f"/CN=redflagd test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return os.path.join(d, f"{name}.pem")


def make_cert(d, name, ca, sans):
    """A server certificate d/name.pem (+ .key) for sans ("DNS:x", "IP:y") signed by ca."""
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={sans[0].split(':', 1)[1]}", cwd=d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(f"subjectAltName={','.join(sans)}\nextendedKeyUsage=serverAuth\n"
                "basicConstraints=CA:FALSE\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-out", f"{name}.pem",
             "-extfile", f"{name}.ext", cwd=d)
    return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")


DOVECOT_CONF = """\
protocols = imap
listen = {listen}
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_failure_delay = 0
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
mail_max_userip_connections = 100
login_trusted_networks =
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={dir}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = {listen}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {listen}
    port = {imaps_port}
    ssl = yes
  }}
}}
"""


class Dovecot:
    """A Dovecot IMAP server for one user ("owner"/"secret") on 127.0.0.1.

    cert: "good" (DNS:localhost, IP:127.0.0.1, signed by ca_file) or "wronghost"
    (DNS:wrong.example only, also signed by ca_file). other_ca_file is an unrelated CA.
    """

    def __init__(self, workdir, cert="good"):
        self.workdir = os.path.abspath(workdir)
        self.cert = cert
        self.user, self.password = USER, PASSWORD
        self.imap_port = self.imaps_port = None
        self.proc = None
        self.log_path = os.path.join(self.workdir, "dovecot.log")
        self.maildir = os.path.join(self.workdir, "mail", USER, "Maildir")

    def start(self):
        d = self.workdir
        os.makedirs(d, exist_ok=True)
        for sub in ("run", "state", "mail", "tls"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        tls = os.path.join(d, "tls")
        self.ca_file = make_ca(tls, "ca")
        self.other_ca_file = make_ca(tls, "otherca")
        sans = (["DNS:localhost", "IP:127.0.0.1"] if self.cert == "good"
                else ["DNS:wrong.example"])
        cert, key = make_cert(tls, "server", "ca", sans)
        # Dovecot drops to nobody for mail access: every parent must be traversable.
        p = d
        while p != "/":
            st = os.stat(p)
            if not st.st_mode & 0o001:
                os.chmod(p, st.st_mode | 0o711)
            p = os.path.dirname(p)
        nobody = pwd.getpwnam("nobody")
        for dirpath, dirnames, filenames in os.walk(os.path.join(d, "mail")):
            os.chown(dirpath, nobody.pw_uid, nobody.pw_gid)
            for f in filenames:
                os.chown(os.path.join(dirpath, f), nobody.pw_uid, nobody.pw_gid)
        self.imap_port, self.imaps_port = free_port(), free_port()
        conf = os.path.join(d, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(DOVECOT_CONF.format(listen=LOOPBACK, dir=d, cert=cert, key=key,
                                        password=PASSWORD, imap_port=self.imap_port,
                                        imaps_port=self.imaps_port))
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(self.imap_port)
            wait_port(self.imaps_port)
        except TimeoutError:
            self.stop()
            raise RuntimeError("dovecot did not start:\n" + self.log_text())
        return self

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log_text(self):
        """Everything Dovecot logged so far (log_path)."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_mark(self):
        """The current end of the log, for log_since() and wait_log()."""
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_since(self, mark):
        """What Dovecot logged after log_mark() returned mark."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(mark)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, mark=0, timeout=10.0):
        """Waits (bounded) until a log line after mark matches the regex pattern and returns
        that line. Dovecot's log process writes asynchronously, so a line about a connection
        can appear after the client has already exited."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_since(mark).splitlines():
                if rx.search(line):
                    return line
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no log line matching {pattern!r} after {timeout} s:\n"
                                   + self.log_since(mark)[-3000:])
            time.sleep(0.05)

    # ---- IMAP helpers over the plain port (the server under test is the same) ----

    def connect(self):
        m = imaplib.IMAP4(LOOPBACK, self.imap_port, timeout=30)
        m.login(self.user, self.password)
        return m

    def append(self, mailbox, raw, flags=(), date=None):
        """APPENDs one message; raises if the server refuses it."""
        if self.append_many(mailbox, [raw], flags, date):
            raise RuntimeError(f"the server refused the message for {mailbox}")

    def append_many(self, mailbox, raws, flags=(), date=None):
        """APPENDs every message in raws (bytes, any line ending) over one connection.
        flags: a tuple such as ("\\Seen",) or an IMAP list string "(\\Seen)".
        Returns the number the server refused. Bounded: at most MAX_MESSAGES messages and
        a 30 s socket timeout per command."""
        raws = list(raws)
        if len(raws) > MAX_MESSAGES:
            raise ValueError(f"{len(raws)} messages: more than {MAX_MESSAGES}")
        flags = _flag_list(flags)
        refused = 0
        m = self.connect()
        try:
            for raw in raws:
                raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                try:
                    typ, _ = m.append(_quote(mailbox), flags,
                                      imaplib.Time2Internaldate(date) if date else None, raw)
                    refused += typ != "OK"
                except imaplib.IMAP4.error:
                    refused += 1
        finally:
            m.logout()
        return refused

    def deliver_many(self, mailbox, raws):
        """Writes messages straight into the server's maildir (what a local delivery agent
        does), for mailboxes of many thousand messages where APPEND would take minutes.
        Dovecot assigns UIDs when the mailbox is next opened. Returns the count written."""
        raws = list(raws)
        if len(raws) > MAX_MESSAGES:
            raise ValueError(f"{len(raws)} messages: more than {MAX_MESSAGES}")
        if mailbox != "INBOX":
            self.uids(mailbox)  # makes sure Dovecot knows the folder (and created it)
        box = self.maildir if mailbox == "INBOX" else os.path.join(self.maildir,
                                                                   "." + mailbox.replace("/", "."))
        nobody = pwd.getpwnam("nobody")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(box, sub), mode=0o700, exist_ok=True)
        for p in (self.maildir, box, *(os.path.join(box, s) for s in ("cur", "new", "tmp"))):
            os.chown(p, nobody.pw_uid, nobody.pw_gid)
        tag = uuid.uuid4().hex[:12]
        for i, raw in enumerate(raws):
            name = f"{int(time.time())}.R{tag}P{i}.redflagd-rig"
            tmp = os.path.join(box, "tmp", name)
            with open(tmp, "wb") as f:
                f.write(raw.replace(b"\r\n", b"\n"))
            os.chown(tmp, nobody.pw_uid, nobody.pw_gid)
            os.rename(tmp, os.path.join(box, "new", name))
        return len(raws)

    def uids(self, mailbox):
        m = self.connect()
        try:
            m.select(_quote(mailbox), readonly=True)
            typ, data = m.uid("SEARCH", None, "ALL")
            if typ != "OK":
                raise RuntimeError(f"UID SEARCH in {mailbox}: {data}")
            return [int(x) for x in data[0].split()]
        finally:
            m.logout()

    def uidvalidity(self, mailbox):
        m = self.connect()
        try:
            typ, data = m.status(_quote(mailbox), "(UIDVALIDITY)")
            return int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))
        finally:
            m.logout()

    def flags(self, mailbox):
        """uid -> sorted tuple of flags (without \\Recent), read with EXAMINE."""
        m = self.connect()
        try:
            typ, data = m.select(_quote(mailbox), readonly=True)
            if typ != "OK":
                raise RuntimeError(f"EXAMINE {mailbox}: {data}")
            if int(data[0]) == 0:
                return {}
            typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
            out = {}
            for line in data:
                if not line or not isinstance(line, bytes):
                    continue
                uid = int(re.search(rb"UID (\d+)", line).group(1))
                fl = re.search(rb"FLAGS \(([^)]*)\)", line).group(1).split()
                # \Recent belongs to the session that saw the message first, not to the mail.
                out[uid] = tuple(sorted(f.decode() for f in fl if f != b"\\Recent"))
            return out
        finally:
            m.logout()

    def create_mailbox(self, name):
        m = self.connect()
        try:
            m.create(_quote(name))
        finally:
            m.logout()

    def delete_mailbox(self, name):
        m = self.connect()
        try:
            m.delete(_quote(name))
        finally:
            m.logout()


def _flag_list(flags):
    if not flags:
        return None
    if isinstance(flags, str):
        return flags if flags.startswith("(") else f"({flags})"
    return "(" + " ".join(flags) + ")"


def _quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class SmtpSink:
    """aiosmtpd writing every received message into a maildir, on 127.0.0.1."""

    def __init__(self, workdir):
        self.workdir = os.path.abspath(workdir)
        self.maildir = os.path.join(self.workdir, "smtp-sink")
        self.port = None
        self.proc = None

    def start(self):
        # aiosmtpd's Mailbox handler opens an existing Maildir; it does not create one.
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(self.maildir, sub), exist_ok=True)
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", f"{LOOPBACK}:{self.port}",
             "-c", "aiosmtpd.handlers.Mailbox", self.maildir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def messages(self):
        """Raw bytes of every message received so far, oldest first."""
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir, sub)
            if os.path.isdir(d):
                for name in sorted(os.listdir(d), key=lambda n: os.stat(os.path.join(d, n)).st_mtime):
                    with open(os.path.join(d, name), "rb") as f:
                        out.append(f.read())
        return out


# The rule packs of this checkout (conf/rules, catalogue conf/signals.conf beside it).
RULES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "conf", "rules")


def redflagd_config(path, dovecot, tls="none", db=None, extra="", account_extra="",
                    owner="owner@studio.test", mailboxes=("INBOX", "Sent")):
    """Writes a redflagd config (libconfig) for dovecot and a 0600 password file next to it.
    db defaults to redflagd.db next to path; extra is appended at top level, account_extra
    inside the account group.

    tls: "none" (plain port, tls = "none"), "implicit" (imaps://localhost, ca_file),
    "starttls" (imap://localhost, ca_file), "implicit-otherca" (trusting the wrong CA).
    """
    d = os.path.dirname(os.path.abspath(path))
    db = os.path.abspath(db or os.path.join(d, "redflagd.db"))
    pw = os.path.join(d, "imap.pass")
    fd = os.open(pw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(dovecot.password + "\n")
    os.chmod(pw, 0o600)
    if tls == "none":
        acct = f'url = "imap://{LOOPBACK}:{dovecot.imap_port}"; tls = "none";'
    elif tls == "starttls":
        acct = f'url = "imap://localhost:{dovecot.imap_port}"; ca_file = "{dovecot.ca_file}";'
    elif tls == "implicit":
        acct = f'url = "imaps://localhost:{dovecot.imaps_port}"; ca_file = "{dovecot.ca_file}";'
    elif tls == "implicit-otherca":
        acct = (f'url = "imaps://localhost:{dovecot.imaps_port}"; '
                f'ca_file = "{dovecot.other_ca_file}";')
    else:
        raise ValueError(tls)
    boxes = ", ".join(f'"{b}"' for b in mailboxes)
    with open(path, "w") as f:
        f.write(f"""owner = {{ name = "Test Owner"; addresses = ["{owner}"]; language = "en";
          timezone = "Europe/Copenhagen"; }};
database = "{db}";
rules = "{RULES_DIR}";
accounts = ( {{ name = "main"; {acct} user = "{dovecot.user}";
               password_file = "{pw}"; mailboxes = [{boxes}]; {account_extra} }} );
{extra}
""")
    return path


def write_config(path, dovecot, db, tls="none", **kw):
    """The first name of redflagd_config(), kept for callers that use it."""
    return redflagd_config(path, dovecot, tls=tls, db=db, **kw)


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)
