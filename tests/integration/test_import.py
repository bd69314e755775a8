"""Import of a generated mailbox: exact counts, incremental re-sync, no attachments stored,
\\Seen untouched, clients resolved."""

import os

from harness import DovecotCase, make_mailbox, server_uids

MARKER = "ATTACHMENTMARKERXYZZY"


class ImportTest(DovecotCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        inbox, sent = make_mailbox(seed=7, n_inbox=300, attach_marker=MARKER)
        # Mixed flags, so that \\Seen appearing or disappearing anywhere shows.
        assert cls.dovecot.append_many("INBOX", inbox[:250]) == 0
        assert cls.dovecot.append_many("INBOX", inbox[250:280], flags=("\\Seen",)) == 0
        assert cls.dovecot.append_many("INBOX", inbox[280:], flags=("\\Flagged",)) == 0
        assert cls.dovecot.append_many("Sent", sent, flags=("\\Seen",)) == 0
        cls.n_inbox, cls.n_sent = len(inbox), len(sent)
        # Read before any sync: the tests below run in any order.
        cls.initial_flags = {mb: cls.dovecot.flags(mb) for mb in ("INBOX", "Sent")}

    def test_counts_match_server_and_resync_adds_nothing(self):
        conf = self.config("counts.conf")
        self.rf(conf, "sync", "--once")
        uids = server_uids(self.dovecot)
        st = self.stats(conf)
        self.assertEqual(st["messages"], self.n_inbox + self.n_sent)
        boxes = {m["mailbox"]: m for m in st["mailboxes"]}
        self.assertEqual(set(boxes), {"INBOX", "Sent"})
        for mb, u in uids.items():
            self.assertEqual(boxes[mb]["messages"], len(u), mb)
            self.assertEqual(boxes[mb]["last_uid"], max(u), mb)
            self.assertEqual(boxes[mb]["uidvalidity"], self.dovecot.uidvalidity(mb), mb)
        self.assertEqual(st["unparseable"], 0)
        # Row for row: exactly the server's (mailbox, uid) pairs, each once.
        rows = self.query(conf, "SELECT mailbox, uid FROM messages")
        self.assertEqual(len(rows), len(set(rows)))
        self.assertEqual(set(rows), {(mb, x) for mb, us in uids.items() for x in us})
        self.assertEqual(self.query(conf, "SELECT COUNT(*) FROM messages WHERE parse_error "
                                          "IS NOT NULL")[0][0], 0)

        p = self.rf(conf, "sync", "--once")
        self.assertEqual(self.stats(conf), st, p.stderr)
        self.assertEqual(sorted(self.query(conf, "SELECT mailbox, uid FROM messages")),
                         sorted(rows))

    def test_attachments_are_not_stored(self):
        conf = self.config("attach.conf")
        self.rf(conf, "sync", "--once")
        rows = self.query(conf, "SELECT COUNT(*) FROM messages WHERE body LIKE ? OR text LIKE ?",
                          f"%{MARKER}%", f"%{MARKER}%")
        self.assertEqual(rows[0][0], 0)
        # The file itself (and a WAL, should one be left), not only the columns we know of.
        for suffix in ("", "-wal"):
            if os.path.exists(self.db_path(conf) + suffix):
                with open(self.db_path(conf) + suffix, "rb") as f:
                    self.assertNotIn(MARKER.encode(), f.read(), suffix)
        # ... while the text part of those same messages is there.
        n = self.query(conf, "SELECT COUNT(*) FROM messages WHERE mailbox='INBOX' AND "
                             "length(text) > 20")[0][0]
        self.assertGreater(n, self.n_inbox * 0.9)

    def test_seen_flags_untouched(self):
        before = self.initial_flags
        self.assertEqual(sum("\\Seen" in f for f in before["INBOX"].values()), 30)
        conf = self.config("seen.conf")
        self.rf(conf, "sync", "--once")
        self.assertEqual(self.stats(conf)["messages"], self.n_inbox + self.n_sent)
        after = {mb: self.dovecot.flags(mb) for mb in ("INBOX", "Sent")}
        self.assertEqual(before, after)

    def test_clients_and_direction(self):
        conf = self.config("clients.conf")
        self.rf(conf, "sync", "--once")
        names = {r[0] for r in self.query(conf, "SELECT name FROM clients WHERE owner_wrote=1")}
        # Domain clients by domain, freemail ones by full address.
        self.assertIn("client04.example", names)
        self.assertNotIn("client01.example", names)  # never written to: not (yet) a client
        self.assertIn("person00@gmail.com", names)
        self.assertFalse(any("shop.example" in n for n in names))
        out = self.rf(conf, "clients").stdout
        self.assertIn("client04.example", out)
        self.assertNotIn("shop.example", out)
        dirs = dict(self.query(conf, "SELECT mailbox, MIN(direction) FROM messages "
                                     "WHERE client_id IS NOT NULL GROUP BY mailbox"))
        self.assertEqual(dirs, {"INBOX": 1, "Sent": 2})
        # Newsletters are stored but belong to no client.
        n = self.query(conf, "SELECT COUNT(*) FROM messages WHERE from_addr='no-reply@shop.example'"
                             " AND client_id IS NULL")[0][0]
        self.assertGreater(n, 0)

    def test_text_is_clean_utf8_without_quotes(self):
        conf = self.config("text.conf")
        self.rf(conf, "sync", "--once")
        rows = self.query(conf, "SELECT text FROM messages WHERE mailbox='Sent'")
        self.assertTrue(rows)
        for (text,) in rows:
            self.assertNotIn("> quoted", text)
            self.assertNotIn("wrote:", text)
        de = self.query(conf, "SELECT COUNT(*) FROM messages WHERE text LIKE '%Grüße%' "
                              "OR text LIKE '%schnelle Hilfe%'")[0][0]
        self.assertGreater(de, 0)
