"""`run` under a fake systemd: the lifecycle without systemd as PID 1.

The test binds a unix datagram socket and starts `redflagd run` with NOTIFY_SOCKET pointing
at it (WATCHDOG_PID is left unset: libsystemd compares it with getpid(), and the pid is not
known before the start). Each datagram is newline-separated KEY=VALUE lines. Checked:
READY=1 only after the first login and import (never with a wrong password), STATUS= kept
current ("idle on INBOX", "N messages"), WATCHDOG=1 pings with WATCHDOG_USEC, SIGHUP with a
broken config (RELOADING=1, READY=1, the old config kept, the error as file:line, mail still
imported), SIGHUP with a good one (applied: a newly ignored domain is no client any more),
SIGTERM in the middle of a large import (STOPPING=1, exit 0 within 5 s, database consistent
and completed by a following `sync --once`).
"""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import time

from harness import BIN, DovecotCase, make_mailbox

START_S = 30.0       # run start-up: login and the first import of a small mailbox
STOP_S = 5.0         # the bound for SIGTERM, also in the middle of a fetch
NEW_MAIL_S = 10.0    # new mail stored after a reload (IDLE makes it ~2 s)
RELOAD_S = 10.0      # SIGHUP -> RELOADING=1 -> READY=1
WATCHDOG_USEC = 2000000


def msg(tag, sender="kate@client.example"):
    return (f"From: Kate <{sender}>\r\nTo: owner@studio.test\r\n"
            f"Subject: lifecycle {tag}\r\nMessage-ID: <{tag}@lifecycle.example>\r\n"
            f"Date: Mon, 06 Jan 2025 10:00:00 +0100\r\n\r\n"
            f"Could you send the drafts for {tag}?\r\n").encode()


class Notify:
    """The receiving end of sd_notify(): a bound AF_UNIX SOCK_DGRAM socket. Every datagram
    read is kept in `seen` as a list of lines; every read is bounded."""

    def __init__(self, path):
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.seen = []

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _recv(self, timeout):
        """One datagram as a list of lines, or None after timeout seconds."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        lines = [l for l in data.decode(errors="replace").split("\n") if l]
        self.seen.append(lines)
        return lines

    def wait(self, pred, timeout):
        """Reads until a datagram has a line for which pred(line) is true; returns that
        line, or None when timeout seconds pass first."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            lines = self._recv(left)
            if lines is None:
                return None
            for l in lines:
                if pred(l):
                    return l

    def collect(self, seconds):
        """Every line that arrives within seconds."""
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            lines = self._recv(left)
            if lines is not None:
                out.extend(lines)
        return out

    def drain(self):
        """Whatever is queued now (the sender may have exited: datagrams stay queued)."""
        out = []
        while (lines := self._recv(0.05)) is not None:
            out.extend(lines)
        return out

    def history(self, last=40):
        return "\n".join(" | ".join(d) for d in self.seen[-last:])


class LifecycleCase(DovecotCase):
    def start(self, conf, watchdog=False):
        """Starts `redflagd -c conf run` with NOTIFY_SOCKET (and WATCHDOG_USEC when asked);
        returns (Popen, Notify, stderr path). Cleanup stops it and removes the socket."""
        d = os.path.dirname(conf)
        notify = Notify(os.path.join(d, "notify.sock"))
        self.addCleanup(notify.close)
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM",
                            "LISTEN_FDS", "LISTEN_PID")}
        env["NOTIFY_SOCKET"] = notify.path
        if watchdog:
            env["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
        err = os.path.join(d, f"stderr-{len(os.listdir(d))}")
        with open(err, "w") as f:
            proc = subprocess.Popen([BIN, "-c", conf, "run"], stdout=subprocess.DEVNULL,
                                    stderr=f, env=env)
        self.addCleanup(self.stop_proc, proc, signal.SIGKILL, 5)
        return proc, notify, err

    @staticmethod
    def stderr(err):
        with open(err, errors="replace") as f:
            return f.read()

    def wait_ready(self, proc, notify, err, timeout=START_S, what="READY=1"):
        line = notify.wait(lambda l: l == "READY=1", timeout)
        self.assertIsNotNone(line, f"no {what} within {timeout} s (alive: {proc.poll() is None})"
                             f"\nnotify:\n{notify.history()}\nstderr:\n"
                             + self.stderr(err)[-3000:])

    def terminate(self, proc, notify, err):
        """SIGTERM: STOPPING=1 and exit 0 within STOP_S. Returns the seconds it took."""
        t = time.monotonic()
        rc, in_time = self.stop_proc(proc, signal.SIGTERM, timeout=STOP_S)
        took = time.monotonic() - t
        lines = notify.drain()
        self.assertTrue(in_time, f"still running {STOP_S} s after SIGTERM:\n"
                        + self.stderr(err)[-3000:])
        self.assertEqual(rc, 0, self.stderr(err)[-3000:])
        self.assertIn("STOPPING=1", lines + [l for d in notify.seen for l in d],
                      "no STOPPING=1:\n" + notify.history())
        return took

    def server_count(self):
        return sum(len(self.dovecot.uids(mb)) for mb in ("INBOX", "Sent"))

    def stored_count(self, conf):
        return self.try_query(conf, "SELECT COUNT(*) FROM messages", default=[(0,)])[0][0]

    def wait_stored(self, conf, mid, timeout=NEW_MAIL_S):
        """The row of Message-ID mid (client_id,) once stored, or None after timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.try_query(conf, "SELECT client_id FROM messages WHERE message_id=?",
                                  mid, default=[])
            if rows:
                return rows[0]
            time.sleep(0.05)
        return None


class LifecycleTest(LifecycleCase):
    def test_ready_after_import_status_and_watchdog(self):
        self.dovecot.append("INBOX", msg("ready-in"))
        self.dovecot.append("Sent", msg("ready-out", sender="owner@studio.test"))
        want = self.server_count()
        conf = self.config("ready.conf")
        proc, notify, err = self.start(conf, watchdog=True)
        self.wait_ready(proc, notify, err)
        # READY=1 follows the first import: everything on the server is stored already.
        self.assertEqual(self.stored_count(conf), want,
                         "READY=1 came before the first import had finished")
        status = notify.wait(lambda l: l.startswith("STATUS=") and "idle on INBOX" in l
                             and "messages" in l, 10)
        self.assertIsNotNone(status, "no STATUS= with 'idle on INBOX' and 'messages':\n"
                             + notify.history())
        self.assertRegex(status, r"\d[\d,.]* messages")
        # Pinged from the loop while it IDLEs: every WATCHDOG_USEC/2 or more often.
        lines = notify.collect(4.0)
        pings = lines.count("WATCHDOG=1")
        self.assertGreaterEqual(pings, 3, f"{pings} WATCHDOG=1 in 4 s:\n" + notify.history())
        self.assertIsNone(proc.poll(), "run exited on its own:\n" + self.stderr(err)[-3000:])
        self.terminate(proc, notify, err)

    def test_wrong_password_never_ready(self):
        conf = self.config("badpw.conf")
        bad = "not-the-secret-4711"
        pw = os.path.join(os.path.dirname(conf), "imap.pass")
        with open(pw, "w") as f:
            f.write(bad + "\n")
        os.chmod(pw, 0o600)
        proc, notify, err = self.start(conf)
        line = notify.wait(lambda l: l == "READY=1", 5.0)
        self.assertIsNone(line, "READY=1 without a successful login")
        self.assertIsNone(proc.poll(), "run gave up instead of retrying:\n"
                          + self.stderr(err)[-3000:])
        self.terminate(proc, notify, err)
        self.assertNotIn(bad, self.stderr(err))

    def test_sighup_with_broken_config_keeps_the_old_one(self):
        conf = self.config("broken.conf")
        with open(conf) as f:
            good = f.read()
        proc, notify, err = self.start(conf)
        self.wait_ready(proc, notify, err)
        for n, bad in enumerate(("broken = = 1;", "frobnicate = 1;")):
            line = len(good.splitlines()) + 1
            with open(conf, "w") as f:
                f.write(good + bad + "\n")
            proc.send_signal(signal.SIGHUP)
            self.assertIsNotNone(notify.wait(lambda l: l == "RELOADING=1", RELOAD_S),
                                 f"no RELOADING=1 after SIGHUP ({bad}):\n" + notify.history())
            self.wait_ready(proc, notify, err, RELOAD_S, f"READY=1 after RELOADING=1 ({bad})")
            self.assertIsNone(proc.poll(), f"run exited on a broken config ({bad}):\n"
                              + self.stderr(err)[-3000:])
            self.assertRegex(self.stderr(err), re.escape(f"{conf}:{line}:"),
                             f"the error of '{bad}' is not reported as file:line")
            # The old configuration is still at work: new mail comes in.
            self.dovecot.append("INBOX", msg(f"after-broken-{n}"))
            self.assertIsNotNone(self.wait_stored(conf, f"after-broken-{n}@lifecycle.example"),
                                 f"mail not imported after a broken reload ({bad}):\n"
                                 + self.stderr(err)[-3000:])
        self.assertNotIn("configuration reloaded", self.stderr(err))
        self.terminate(proc, notify, err)

    def test_sighup_with_good_config_applies_it(self):
        conf = self.config("good.conf")
        with open(conf) as f:
            good = f.read()
        proc, notify, err = self.start(conf)
        self.wait_ready(proc, notify, err)
        self.dovecot.append("INBOX", msg("before-ignore", sender="anna@x.example"))
        row = self.wait_stored(conf, "before-ignore@lifecycle.example")
        self.assertIsNotNone(row, "mail not imported before the reload")
        self.assertIsNotNone(row[0], "precondition: a mail from @x.example makes a client")
        with open(conf, "w") as f:
            f.write(good + 'ignore = ["@x.example"];\n')
        proc.send_signal(signal.SIGHUP)
        self.assertIsNotNone(notify.wait(lambda l: l == "RELOADING=1", RELOAD_S),
                             "no RELOADING=1 after SIGHUP:\n" + notify.history())
        self.wait_ready(proc, notify, err, RELOAD_S, "READY=1 after RELOADING=1")
        self.assertIn("configuration reloaded", self.stderr(err))
        # Applied: the newly ignored domain is no client any more.
        self.dovecot.append("INBOX", msg("after-ignore", sender="bob@x.example"))
        row = self.wait_stored(conf, "after-ignore@lifecycle.example")
        self.assertIsNotNone(row, "mail not imported after the reload:\n"
                             + self.stderr(err)[-3000:])
        self.assertIsNone(row[0], "the reloaded ignore list is not applied")
        self.assertIsNone(proc.poll())
        self.terminate(proc, notify, err)


class StopDuringImportTest(LifecycleCase):
    """Its own Dovecot: the ~3,900 messages would slow every other test's first import."""

    def test_sigterm_in_the_middle_of_a_large_import(self):
        t0 = time.monotonic()
        inbox, sent = make_mailbox(seed=6, n_inbox=3000, n_clients=30)
        # Straight into the maildir: APPENDing them would take ~20 s.
        self.dovecot.deliver_many("INBOX", inbox)
        self.dovecot.deliver_many("Sent", sent)
        total = self.server_count()
        self.assertEqual(total, len(inbox) + len(sent))
        print(f"\n  {total} messages delivered in {time.monotonic() - t0:.1f} s", end="")
        conf = self.config("big.conf")
        proc, notify, err = self.start(conf)
        # Logged in and importing (progress is reported at most every 250 ms), then stop.
        line = notify.wait(lambda l: l == "READY=1" or l.startswith("STATUS=importing"),
                           START_S)
        self.assertIsNotNone(line, "no import progress:\n" + notify.history())
        time.sleep(0.3)
        before = [l for d in notify.seen for l in d] + notify.drain()
        self.assertNotIn("READY=1", before, "the import finished before the SIGTERM")
        mark = self.dovecot.log_mark()
        took = self.terminate(proc, notify, err)
        stored = self.stored_count(conf)
        print(f"\n  SIGTERM during the import: exit 0 after {took:.2f} s, "
              f"{stored}/{total} messages stored", end=" ")
        # READY=1 means the first import is done: an interrupted one never sends it.
        self.assertNotIn("READY=1", [l for d in notify.seen for l in d],
                         "READY=1 after an interrupted first import:\n" + notify.history())
        con = sqlite3.connect(f"file:{self.db_path(conf)}?mode=ro", uri=True, timeout=10)
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            rows = con.execute("SELECT mailbox, uid FROM messages").fetchall()
            # The checkpoint never leads the stored rows.
            for mb, last in con.execute("SELECT mailbox, last_uid FROM sync_state"):
                have = {u for m, u in rows if m == mb}
                self.assertTrue(all(u in have for u in self.dovecot.uids(mb) if u <= last),
                                f"{mb}: checkpoint {last} ahead of the stored rows")
        finally:
            con.close()
        self.assertEqual(len(rows), len(set(rows)), "duplicate rows")
        self.assertLessEqual(len(rows), total)
        # Logged out, not just dropped: Dovecot ends the daemon's session (the one that
        # fetched bodies) with "Logged out" after a LOGOUT, "Connection closed" otherwise.
        try:
            end = self.dovecot.wait_log(r"imap\(owner\).*Disconnected.*body_count=[1-9]", mark,
                                        timeout=5)
        except TimeoutError as e:
            self.fail(f"the daemon's IMAP session did not end: {e}")
        self.assertIn("Logged out", end, "no LOGOUT after SIGTERM")
        # A following sync completes it to the server's count exactly.
        self.rf(conf, "sync", "--once")
        self.assertEqual(self.stored_count(conf), total)
        self.assertEqual(set(self.query(conf, "SELECT mailbox, uid FROM messages")),
                         {(mb, u) for mb in ("INBOX", "Sent") for u in self.dovecot.uids(mb)})
