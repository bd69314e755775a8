#!/usr/bin/python3
"""A scriptable SMTP server on 127.0.0.1 for redflagd's tests (aiosmtpd, in its own process).

Python 3.11 standard library + aiosmtpd (Debian python3-aiosmtpd); run with /usr/bin/python3.

    with Smtpd(workdir, reply={"dataend": ["451 4.3.0 busy"]}) as s:
        ... send to 127.0.0.1:s.port ...
        s.messages()   # [b"...message as received..."], oldest first
        s.log()        # ["CONNECT", "EHLO", "MAIL", "RCPT", "DATA", "CONNECT", ...]

Command line (what the class runs, and what a C test can run itself):

    /usr/bin/python3 tests/rig/smtprig.py --port N --dir D --config JSON
    /usr/bin/python3 tests/rig/smtprig.py --make-certs D

--port 0 lets the kernel choose. Once the server listens it writes D/ready (atomically) with
the port number. JSON holds the constructor's keywords (lists for the tuples), e.g.
{"reply": {"rcpt": "550 5.1.1 no"}, "auth": ["u", "p"], "starttls": ["c.pem", "k.pem"]}.
Everything the server saw goes to files in D, written before the reply that follows it:
  D/log               one line per event: "CMD<TAB>tls|clear<TAB>argument" (AUTH's
                      argument is the mechanism only, never credentials); CMD is CONNECT for
                      a new connection, else the command word as the client sent it, upper-case
  D/messages/N.eml    each accepted message, byte for byte (dot-stuffing removed), N = 000001…
  D/messages/N.json   its envelope: {"mail_from": "...", "rcpt_tos": [...]}
--make-certs D writes D/ca.pem (+ .key), D/server.pem + D/server.key (localhost and
127.0.0.1, signed by ca), D/wronghost.pem + .key (wrong.example only, signed by ca) and
D/otherca.pem (+ .key), an unrelated CA.

Scripting:
  reply   stage -> reply line, stage one of connect|ehlo|mail|rcpt|data|dataend (data = the
          reply to the DATA command, dataend = the reply after the final dot). A list is used
          in turn, one entry each time that stage is reached (across connections), then the
          normal reply: {"dataend": ["451 4.3.0 busy"]} fails once, then accepts. A 421 reply
          closes the connection after it is sent; so does any non-2xx reply at connect.
  auth    (user, password): AUTH PLAIN/LOGIN required before MAIL; 535 on bad credentials
  starttls  (certfile, keyfile): STARTTLS offered and required before anything else
  implicit_tls  (certfile, keyfile): TLS from the first byte (smtps)
  hang    a stage or a list of stages: the connection is accepted but never answered there
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rig  # noqa: E402  (free_port, make_ca, make_cert)

LOOPBACK = "127.0.0.1"
PYTHON = "/usr/bin/python3"
STAGES = ("connect", "ehlo", "mail", "rcpt", "data", "dataend")
START_TIMEOUT = 10.0
HANG_FOREVER = 3600.0  # seconds; the client's own timeout ends a hung exchange long before


def make_certs(d):
    """CA, server certificate (localhost, 127.0.0.1), a certificate for wrong.example only
    (same CA) and an unrelated CA in directory d. Returns {"ca", "cert", "key", "other_ca",
    "wronghost_cert", "wronghost_key"} (paths)."""
    os.makedirs(d, exist_ok=True)
    ca = rig.make_ca(d, "ca")
    other = rig.make_ca(d, "otherca")
    cert, key = rig.make_cert(d, "server", "ca", ["DNS:localhost", "IP:127.0.0.1"])
    wrong_cert, wrong_key = rig.make_cert(d, "wronghost", "ca", ["DNS:wrong.example"])
    return {"ca": ca, "cert": cert, "key": key, "other_ca": other,
            "wronghost_cert": wrong_cert, "wronghost_key": wrong_key}


class Smtpd:
    """The server process, seen from a test. See the module documentation for the arguments."""

    def __init__(self, workdir, reply=None, auth=None, starttls=None, implicit_tls=None,
                 hang=None):
        self.workdir = os.path.abspath(workdir)
        self.config = {"reply": reply or {}, "auth": auth, "starttls": starttls,
                       "implicit_tls": implicit_tls, "hang": hang}
        _check_config(self.config)
        self.port = None
        self.proc = None

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        ready = os.path.join(self.workdir, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        self._stderr = open(os.path.join(self.workdir, "stderr"), "wb")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.abspath(__file__), "--port", "0", "--dir", self.workdir,
             "--config", json.dumps(self.config)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with open(ready) as f:
                    text = f.read()
                if text.endswith("\n"):
                    self.port = int(text)
                    return self
            except FileNotFoundError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("smtprig did not start:\n" + self.stderr_text())
            time.sleep(0.02)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stderr_text(self):
        try:
            with open(os.path.join(self.workdir, "stderr"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def _message_names(self):
        d = os.path.join(self.workdir, "messages")
        if not os.path.isdir(d):
            return []
        return sorted(n[:-4] for n in os.listdir(d) if n.endswith(".eml"))

    def messages(self):
        """Accepted messages, oldest first, as the bytes the client sent."""
        out = []
        for n in self._message_names():
            with open(os.path.join(self.workdir, "messages", n + ".eml"), "rb") as f:
                out.append(f.read())
        return out

    def envelopes(self):
        """[{"mail_from": str, "rcpt_tos": [str]}] for messages(), same order."""
        out = []
        for n in self._message_names():
            with open(os.path.join(self.workdir, "messages", n + ".json")) as f:
                out.append(json.load(f))
        return out

    def log_lines(self):
        """[(command, "tls"|"clear", argument)] across connections, oldest first."""
        try:
            with open(os.path.join(self.workdir, "log"), encoding="utf-8",
                      errors="replace") as f:
                return [tuple((line.rstrip("\n").split("\t") + ["", ""])[:3]) for line in f]
        except FileNotFoundError:
            return []

    def log(self):
        """Commands received ("CONNECT", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA",
        "QUIT", ...), across connections. A QUIT may be logged a moment after the client
        has already seen its result."""
        return [cmd for cmd, _, _ in self.log_lines()]


def _check_config(c):
    for stage in c.get("reply") or {}:
        if stage not in STAGES:
            raise ValueError(f"reply: unknown stage {stage!r}")
    hang = c.get("hang")
    for stage in ([hang] if isinstance(hang, str) else hang or []):
        if stage not in STAGES:
            raise ValueError(f"hang: unknown stage {stage!r}")
    if c.get("starttls") and c.get("implicit_tls"):
        raise ValueError("starttls and implicit_tls exclude each other")


# ---- the server process ----

def _serve(port, workdir, config):
    # Imported here so that `--make-certs` and the class work without aiosmtpd installed.
    from aiosmtpd.smtp import SMTP, AuthResult

    _check_config(config)
    replies = {k: (list(v) if isinstance(v, list) else v)
               for k, v in (config.get("reply") or {}).items()}
    hang = config.get("hang")
    hang = {hang} if isinstance(hang, str) else set(hang or [])
    auth = config.get("auth")
    msgdir = os.path.join(workdir, "messages")
    os.makedirs(msgdir, exist_ok=True)
    logf = open(os.path.join(workdir, "log"), "a", encoding="utf-8")
    counter = [0]
    conns = {}  # peer -> SMTP instance, for the command log

    def record(cmd, tls, arg=""):
        logf.write(f"{cmd}\t{'tls' if tls else 'clear'}\t{arg}\n")
        logf.flush()

    def scripted(stage):
        """("hang", None), ("reply", text) or None for the normal behaviour."""
        if stage in hang:
            return ("hang", None)
        r = replies.get(stage)
        if isinstance(r, list):
            if not r:
                return None
            return ("reply", r.pop(0))
        if r is not None:
            return ("reply", r)
        return None

    def closes(text):
        return text.startswith("421")

    class CommandLog(logging.Handler):
        # aiosmtpd logs every command line it reads as "%r >> %r" (peer, line) before it
        # decides anything, so commands refused for lack of STARTTLS or AUTH show up too.
        # AUTH arguments arrive already masked; continuation lines are never logged.
        def emit(self, rec):
            if rec.msg != "%r >> %r" or len(rec.args) != 2:
                return
            peer, line = rec.args
            if not isinstance(line, bytes):
                return
            word, _, arg = line.decode("utf-8", "replace").partition(" ")
            word = word.upper()
            if word == "AUTH":
                arg = arg.split(" ", 1)[0]
            conn = conns.get(peer)
            record(word, conn is not None and conn.is_tls(), arg)

    mlog = logging.getLogger("mail.log")
    mlog.setLevel(logging.INFO)
    mlog.propagate = False
    mlog.addHandler(CommandLog())

    class Handler:
        async def handle_MAIL(self, server, session, envelope, address, options):
            s = scripted("mail")
            if s is not None:
                return await server.scripted_reply(s)
            envelope.mail_from = address
            envelope.mail_options.extend(options)
            return "250 OK"

        async def handle_RCPT(self, server, session, envelope, address, options):
            s = scripted("rcpt")
            if s is not None:
                return await server.scripted_reply(s)
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            s = scripted("dataend")
            if s is not None and (s[0] == "hang" or not s[1].startswith("2")):
                return await server.scripted_reply(s)
            # Written before the reply goes out: a client that saw 250 finds the file.
            counter[0] += 1
            name = os.path.join(msgdir, f"{counter[0]:06d}")
            with open(name + ".json.tmp", "w") as f:
                json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
            os.rename(name + ".json.tmp", name + ".json")
            with open(name + ".eml.tmp", "wb") as f:
                f.write(envelope.original_content)
            os.rename(name + ".eml.tmp", name + ".eml")
            return s[1] if s is not None else "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        if (auth_data.login == auth[0].encode() and auth_data.password == auth[1].encode()):
            return AuthResult(success=True)
        # handled=False makes aiosmtpd send 535; anything else leaves the client waiting.
        return AuthResult(success=False, handled=False)

    def context(pair):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(pair[0], pair[1])
        return ctx

    implicit = context(config["implicit_tls"]) if config.get("implicit_tls") else None
    starttls = context(config["starttls"]) if config.get("starttls") else None

    class ScriptedSMTP(SMTP):
        def is_tls(self):
            return implicit is not None or self._tls_protocol is not None

        async def scripted_reply(self, s):
            """Hangs, or returns the scripted reply (closing the connection after a 421)."""
            if s[0] == "hang":
                await asyncio.sleep(HANG_FOREVER)
                return "421 4.4.2 hung too long"
            if closes(s[1]):
                # Runs once the reply has been written: close() flushes it first.
                asyncio.get_running_loop().call_soon(self.transport.close)
            return s[1]

        async def _handle_client(self):
            conns[self.session.peer] = self
            record("CONNECT", self.is_tls())
            s = scripted("connect")
            if s is not None and (s[0] == "hang" or not s[1].startswith("2")):
                if s[0] == "hang":
                    await asyncio.sleep(HANG_FOREVER)
                else:
                    await self.push(s[1])
                self.transport.close()
                return
            await super()._handle_client()

        async def smtp_EHLO(self, hostname):
            s = scripted("ehlo")
            if s is None:
                return await super().smtp_EHLO(hostname)
            await self.push(await self.scripted_reply(s))

        async def smtp_DATA(self, arg):
            # Only a DATA that would be accepted consumes the "data" script.
            if self.session.host_name and self.envelope.rcpt_tos and not arg:
                s = scripted("data")
                if s is not None:
                    return await self.push(await self.scripted_reply(s))
            return await super().smtp_DATA(arg)

    kwargs = {"hostname": "smtprig.test", "timeout": 60, "enable_SMTPUTF8": True,
              "data_size_limit": 64 * 1024 * 1024}
    if starttls is not None:
        kwargs.update(tls_context=starttls, require_starttls=True)
    if auth:
        # AUTH only over TLS when STARTTLS is configured; aiosmtpd does not see implicit
        # TLS as TLS, and a plain test server must be able to offer AUTH at all.
        kwargs.update(auth_required=True, authenticator=authenticator,
                      auth_require_tls=starttls is not None)
        # The implicit-TLS case: a warning meant for real servers, not for this one.
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    else:
        kwargs.update(auth_require_tls=False)
    handler = Handler()

    async def main():
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        server = await loop.create_server(lambda: ScriptedSMTP(handler, **kwargs),
                                          host=LOOPBACK, port=port, ssl=implicit)
        bound = server.sockets[0].getsockname()[1]
        tmp = os.path.join(workdir, "ready.tmp")
        with open(tmp, "w") as f:
            f.write(f"{bound}\n")
        os.rename(tmp, os.path.join(workdir, "ready"))
        await stop
        server.close()

    asyncio.run(main())


def _main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--dir")
    p.add_argument("--config", default="{}", help="JSON, or @FILE")
    p.add_argument("--make-certs", metavar="DIR")
    a = p.parse_args()
    if a.make_certs:
        make_certs(a.make_certs)
        return 0
    if not a.dir:
        p.error("--dir is required")
    text = a.config
    if text.startswith("@"):
        with open(text[1:]) as f:
            text = f.read()
    os.makedirs(a.dir, exist_ok=True)
    _serve(a.port, os.path.abspath(a.dir), json.loads(text))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
