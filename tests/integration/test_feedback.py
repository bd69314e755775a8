"""The owner's corrections: feedback folders read with EXAMINE from the real Dovecot
(redflagd/wrong, redflagd/<signal>), recorded once, applied at once, waiting for a message
not stored yet, never touching a flag; and `redflagd mark`."""

import json
import os
import subprocess

from harness import BIN, DovecotCase

FEEDBACK = 'feedback = { folder = "redflagd"; };'


def mail(mid, subject, body):
    return (f"From: Kate Long <kate@client01.example>\r\nTo: owner@studio.test\r\n"
            f"Subject: {subject}\r\nDate: Tue, 07 Jan 2025 10:00:00 +0100\r\n"
            f"Message-ID: <{mid}>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nHi,\r\n\r\n{body}\r\n\r\nKate\r\n"
            ).encode()


RUSH = mail("rush-1@client01.example", "Logo files",
            "we need the logo files ASAP, please send them by tomorrow morning at the latest. "
            "It is urgent.")
PLAIN = mail("plain-1@client01.example", "Meeting notes",
             "here are the notes from our meeting. Talk soon.")
PENDING = mail("pending-1@client01.example", "Photos", "the photos from Saturday are attached.")
BOTH = mail("both-1@client01.example", "Sketches", "thank you for the sketches.")


class FeedbackTest(DovecotCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        assert cls.dovecot.append_many("INBOX", [RUSH, PLAIN]) == 0
        assert cls.dovecot.append("INBOX", BOTH, flags=("\\Seen",)) is None

    def signals(self, conf, mid):
        return sorted(r[0] for r in self.query(
            conf, "SELECT s.signal FROM signals s JOIN messages m ON m.id = s.message_id "
                  "WHERE m.message_id = ?", mid))

    def test_folders(self):
        conf = self.config("folders.conf", extra=FEEDBACK)
        p = self.rf(conf, "-v", "sync", "--once")
        self.assertEqual(self.signals(conf, "rush-1@client01.example"), ["rush"])
        # No folder yet: not an error, said once (the second run stays quiet about it).
        self.assertIn("feedback folders not on the server", p.stderr)
        self.assertIn("redflagd/wrong", p.stderr)
        p = self.rf(conf, "sync", "--once")
        self.assertNotIn("feedback folders not on the server", p.stderr)

        # The owner files the rush mail into redflagd/wrong, a mail redflagd has not seen
        # yet into redflagd/praise, and one mail into both redflagd/praise and (later in
        # the pass) redflagd/wrong. The test creates the folders; redflagd never does.
        for box in ("redflagd/wrong", "redflagd/praise"):
            self.dovecot.create_mailbox(box)
        self.dovecot.append("redflagd/wrong", RUSH)
        self.dovecot.append("redflagd/praise", PENDING)
        self.dovecot.append("redflagd/praise", BOTH)
        self.dovecot.append("redflagd/wrong", BOTH)
        boxes = ("INBOX", "redflagd/wrong", "redflagd/praise")
        before = {mb: self.dovecot.flags(mb) for mb in boxes}

        p = self.rf(conf, "sync", "--once")
        self.assertEqual(self.signals(conf, "rush-1@client01.example"), [])
        self.assertIn("no signals", self.rf(conf, "explain", "<rush-1@client01.example>").stdout)
        rows = self.query(conf, "SELECT message_id, signal, verdict, source FROM feedback "
                                "ORDER BY id")
        self.assertIn(("rush-1@client01.example", None, "wrong", "folder:redflagd/wrong/1"), rows)
        self.assertIn(("pending-1@client01.example", "praise", "+", "folder:redflagd/praise/1"),
                      rows)
        self.assertEqual(len(rows), 4, rows)
        # Filed into two contradictory folders: the later one wins, both are named.
        self.assertEqual(self.signals(conf, "both-1@client01.example"), [])
        self.assertIn("disagree", p.stderr)
        self.assertIn("folder:redflagd/praise/2", p.stderr)
        self.assertIn("folder:redflagd/wrong/2", p.stderr)
        self.assertIn("redflagd/praise", p.stderr)  # the missing-folder list changed

        # Read-only: no flag anywhere changed (no \\Seen), no folder was created.
        self.assertEqual({mb: self.dovecot.flags(mb) for mb in boxes}, before)
        self.assertFalse(os.path.exists(os.path.join(self.dovecot.maildir, ".redflagd.rush")))

        # The folders' checkpoints are not imported mailboxes.
        self.assertEqual({m["mailbox"] for m in self.stats(conf)["mailboxes"]}, {"INBOX", "Sent"})
        self.assertEqual(sorted(self.query(conf, "SELECT mailbox, last_uid FROM feedback_state")),
                         [("redflagd/praise", 2), ("redflagd/wrong", 2)])

        # Again: nothing new is recorded.
        p = self.rf(conf, "sync", "--once")
        self.assertEqual(len(self.query(conf, "SELECT id FROM feedback")), 4)
        self.assertNotIn("correction", p.stderr)

        # The waiting correction applies when its message arrives, and survives reclassify.
        self.dovecot.append("INBOX", PENDING)
        self.rf(conf, "sync", "--once")
        self.assertEqual(self.signals(conf, "pending-1@client01.example"), ["praise"])
        self.rf(conf, "reclassify")
        self.assertEqual(self.signals(conf, "pending-1@client01.example"), ["praise"])
        self.assertEqual(self.signals(conf, "rush-1@client01.example"), [])
        self.assertEqual({mb: self.dovecot.flags(mb) for mb in boxes[1:]}, {
            mb: before[mb] for mb in boxes[1:]})

    def test_mark(self):
        conf = self.config("mark.conf")
        self.rf(conf, "sync", "--once")
        p = self.rf(conf, "mark", "<nobody@nowhere.example>", "+rush", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("no stored message with Message-ID <nobody@nowhere.example>", p.stderr)
        self.assertEqual(self.query(conf, "SELECT count(*) FROM feedback")[0][0], 0)

        for bad in (["+bogus"], ["+sent_after_hours"], ["--none", "+rush"], ["rush"], []):
            p = self.rf(conf, "mark", "plain-1@client01.example", *bad, check=False)
            self.assertEqual(p.returncode, 2, (bad, p.stderr))

        mid = "plain-1@client01.example"
        p = self.rf(conf, "mark", mid, "+rush")
        self.assertIn("no signals → rush", p.stdout)
        self.assertEqual(self.signals(conf, mid), ["rush"])
        self.assertIn("owner.mark", self.rf(conf, "explain", mid).stdout)
        p = self.rf(conf, "mark", f"<{mid}>", "-rush")
        self.assertIn("rush → no signals", p.stdout)
        self.assertEqual(self.signals(conf, mid), [])
        self.rf(conf, "reclassify")
        self.assertEqual(self.signals(conf, mid), [])

        p = self.rf(conf, "mark", "rush-1@client01.example", "--none")
        self.assertEqual(self.signals(conf, "rush-1@client01.example"), [])
        self.rf(conf, "reclassify")
        self.assertEqual(self.signals(conf, "rush-1@client01.example"), [])
        self.assertEqual(self.query(conf, "SELECT count(*) FROM feedback")[0][0], 3)


PRAISE_A = mail("praise-a@client01.example", "The brochure",
                "thank you so much for the brochure, you did a wonderful job on the layout.")
PRAISE_B = mail("praise-b@client01.example", "The flyer",
                "thank you so much for the flyer, you did a wonderful job on the colours.")
CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(CHECKOUT, "conf", "model", "signals.model")


class OwnerLayerTest(DovecotCase):
    signals = FeedbackTest.signals

    """A mail filed into redflagd/wrong loses its signal, and the owner layer trained from
    that correction scores a later, similar mail lower."""

    def praise_p(self, path, *extra):
        p = subprocess.run([BIN, "classify", "--json", "--rules", os.path.join(CHECKOUT, "conf",
                                                                                  "rules"),
                            "--model", MODEL, *extra, path],
                           capture_output=True, text=True, timeout=60, check=True)
        sig = [s for s in json.loads(p.stdout)["signals"] if s["signal"] == "praise"]
        return sig[0]["p"] if sig else None

    def test_wrong_teaches_the_layer(self):
        if not os.path.exists(MODEL):
            self.skipTest("no shipped model (make model)")
        conf = self.config("layer.conf", extra=FEEDBACK)
        layer = os.path.join(os.path.dirname(conf), "owner.model")
        later = os.path.join(os.path.dirname(conf), "later.eml")
        with open(later, "wb") as f:
            f.write(PRAISE_B)

        self.dovecot.append("INBOX", PRAISE_A)
        self.rf(conf, "sync", "--once")
        self.assertEqual(self.signals(conf, "praise-a@client01.example"), ["praise"])
        self.assertFalse(os.path.exists(layer), "no correction yet, no layer")
        before = self.praise_p(later)
        self.assertIsNotNone(before, "the later mail is praise for the shipped model")

        self.dovecot.create_mailbox("redflagd/wrong")
        self.dovecot.append("redflagd/wrong", PRAISE_A)
        p = self.rf(conf, "-v", "sync", "--once")
        self.assertEqual(self.signals(conf, "praise-a@client01.example"), [])
        self.assertTrue(os.path.exists(layer), p.stderr)
        self.assertIn("owner layer: trained on 1 corrected", p.stderr)
        after = self.praise_p(later, "--layer", layer)
        self.assertTrue(after is None or after < before, (before, after))

        # The daemon itself uses the layer for new mail: the later mail, imported now, is
        # judged with it (check-config and reclassify load it too).
        self.dovecot.append("INBOX", PRAISE_B)
        self.rf(conf, "sync", "--once")
        self.assertIn("configuration OK", self.rf(conf, "check-config").stdout)
        self.rf(conf, "reclassify")
        self.assertEqual(self.signals(conf, "praise-a@client01.example"), [])

        # A damaged layer stops start-up with the file named; nothing runs on it.
        with open(layer, "r+b") as f:
            f.seek(40)
            f.write(b"X")
        p = self.rf(conf, "sync", "--once", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(layer, p.stderr)
        self.assertIn("checksum", p.stderr)
