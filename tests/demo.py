#!/usr/bin/python3
"""`make demo`: the whole product on a throwaway mailbox on loopback.

Starts Dovecot and an SMTP sink on 127.0.0.1 (tests/rig), fills the mailbox with a year of
generated mail from five clients of distinct character (tests/bench/genmail.py --demo),
writes a config (plain IMAP on loopback, 0600 password file), then runs

    redflagd -c CONF sync --once      (its progress is shown as it goes)
    redflagd -c CONF clients
    redflagd -c CONF stats --json
    redflagd -c CONF clients --period 2025
    redflagd -c CONF digest --period 2025 --send

prints the text part of the digest that reached the SMTP sink, and stops the servers. Never prompts; everything lives in a temporary directory that is
removed afterwards unless --keep is given. Standard library only, Debian's /usr/bin/python3.
"""

import argparse
import email
import email.policy
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "rig"))
sys.path.insert(0, os.path.join(HERE, "bench"))

import genmail  # noqa: E402
import rig  # noqa: E402

# The five demo clients, as the owner would configure them. Their characters (for the
# reader of the output): Bergmann rushes, Brightside haggles and pays late, Nordlys praises
# and refers others, Kestrel wants weekends, Skovgaard is quiet.
CLIENTS = """clients = (
  { name = "Bergmann Logistik"; match = ["@bergmann-logistik.de"]; language = "de"; },
  { name = "Brightside Media"; match = ["@brightside-media.co.uk"]; language = "en"; },
  { name = "Nordlys Bryghus"; match = ["@nordlysbryghus.dk"]; language = "da"; },
  { name = "Kestrel Events"; match = ["@kestrelevents.com"]; language = "en"; },
  { name = "Skovgaard Tandklinik"; match = ["@skovgaard-tand.dk"]; language = "da"; }
);
"""


def heading(text):
    print(f"\n== {text} " + "=" * max(0, 66 - len(text)), flush=True)


def run(binary, conf, *args, timeout=120):
    """Runs redflagd with its output going straight to the terminal; returns the exit code."""
    cmd = [binary, "-c", conf, *args]
    print("$ " + " ".join(cmd[0:1] + ["-c", "demo.conf"] + list(args)), flush=True)
    try:
        return subprocess.run(cmd, timeout=timeout, stdin=subprocess.DEVNULL).returncode
    except subprocess.TimeoutExpired:
        print(f"demo: redflagd {' '.join(args)} did not finish in {timeout} s", flush=True)
        return -1


def capture(binary, conf, *args, timeout=60):
    cmd = [binary, "-c", conf, *args]
    print("$ " + " ".join(cmd[0:1] + ["-c", "demo.conf"] + list(args)), flush=True)
    p = subprocess.run(cmd, timeout=timeout, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True)
    if p.stderr:
        sys.stderr.write(p.stderr)
    return p.returncode, p.stdout


def main():
    ap = argparse.ArgumentParser(description="redflagd demo on a throwaway local mailbox")
    ap.add_argument("--binary", default="build/redflagd")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    if not os.access(binary, os.X_OK):
        print(f"demo: {binary} is missing; run make first", file=sys.stderr)
        return 1
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="redflagd-demo-")
    dovecot = rig.Dovecot(os.path.join(tmp, "dovecot"))
    smtp = rig.SmtpSink(os.path.join(tmp, "smtp"))
    failures = 0
    try:
        heading("mailbox")
        # Written straight into the user's Maildir before Dovecot starts (start() hands the
        # tree to nobody:nogroup, which Dovecot runs the mail processes as).
        c = genmail.generate(dovecot.maildir, seed=a.seed, messages=300, demo=True)
        print(f"Mette Holm's studio, a year of mail: {c['messages']} messages "
              f"({c['INBOX']} in INBOX, {c['Sent']} of her replies in Sent), "
              f"{c['clients']} clients in Danish, German and English, "
              f"{c['automated']} newsletters and notifications.")
        dovecot.start()
        smtp.start()
        print(f"Dovecot on 127.0.0.1:{dovecot.imap_port}, SMTP sink on 127.0.0.1:{smtp.port}")

        conf = os.path.join(tmp, "demo", "demo.conf")
        os.makedirs(os.path.dirname(conf), exist_ok=True)
        # Plain SMTP is acceptable only because the sink listens on loopback.
        outgoing = (f'smtp = {{ url = "smtp://127.0.0.1:{smtp.port}"; tls = "none"; '
                    f'from = "redflagd@studio.dk"; timeout = 10; retries = 1; '
                    f'retry_delay = 1; }};\n'
                    f'digest = {{ to = "{genmail.OWNER_ADDR}"; every = "year"; '
                    f'language = "en"; }};\n')
        rig.write_config(conf, dovecot, os.path.join(tmp, "demo", "redflagd.db"), tls="none",
                         owner=genmail.OWNER_ADDR, extra=CLIENTS + outgoing)

        heading("import: sync --once")
        rc = run(binary, conf, "sync", "--once")
        failures += rc != 0

        heading("clients")
        rc, out = capture(binary, conf, "clients")
        print(out, end="")
        failures += rc != 0

        heading("stats --json")
        rc, out = capture(binary, conf, "stats", "--json")
        failures += rc != 0
        try:
            print(json.dumps(json.loads(out), indent=2, ensure_ascii=False))
        except ValueError:
            print(out, end="")

        heading("clients --period 2025: the verdicts")
        rc, out = capture(binary, conf, "clients", "--period", "2025")
        print(out, end="")
        failures += rc != 0

        heading("digest --period 2025 --send")
        rc = run(binary, conf, "digest", "--period", "2025", "--send")
        failures += rc != 0
        received = smtp.messages()
        heading(f"the digest that arrived ({len(received)} message(s) at the SMTP sink)")
        if received:
            mail = email.message_from_bytes(received[-1], policy=email.policy.default)
            print(f"Subject: {mail['Subject']}\nTo: {mail['To']}\n")
            part = mail.get_body(preferencelist=("plain",))
            print(part.get_content() if part is not None else "(no text part)")
    finally:
        smtp.stop()
        dovecot.stop()
        if a.keep:
            print(f"\ndemo: kept {tmp}")
        else:
            rig.rmtree(tmp)
    print(f"\ndemo: done in {time.monotonic() - t0:.1f} s"
          + (f", {failures} command(s) failed" if failures else ""))
    # The demo shows the product; a failing command is visible above but does not fail make.
    return 0


if __name__ == "__main__":
    sys.exit(main())
