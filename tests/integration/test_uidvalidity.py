"""UIDVALIDITY change: the mailbox is refetched without duplicating a single message."""

from harness import DovecotCase, make_mailbox


class UidvalidityTest(DovecotCase):
    def test_recreated_mailbox_is_not_duplicated(self):
        inbox, sent = make_mailbox(seed=11, n_inbox=120)
        self.dovecot.create_mailbox("Projects")
        self.assertEqual(self.dovecot.append_many("Projects", inbox), 0)
        conf = self.config(mailboxes=("INBOX", "Projects"))
        self.rf(conf, "sync", "--once")
        before = self.query(conf, "SELECT COUNT(*), MIN(uidvalidity) FROM messages "
                                  "WHERE mailbox='Projects'")[0]
        self.assertEqual(before[0], len(inbox))

        self.dovecot.delete_mailbox("Projects")
        self.dovecot.create_mailbox("Projects")
        # The same mail, in another order, so the new UIDs do not line up with the old ones.
        self.assertEqual(self.dovecot.append_many("Projects", list(reversed(inbox))), 0)
        new_uv = self.dovecot.uidvalidity("Projects")
        self.assertNotEqual(new_uv, before[1])

        p = self.rf(conf, "sync", "--once")
        self.assertIn("UIDVALIDITY", p.stderr)
        rows = self.query(conf, "SELECT COUNT(*), COUNT(DISTINCT message_id), MIN(uidvalidity), "
                                "MAX(uidvalidity) FROM messages WHERE mailbox='Projects'")[0]
        self.assertEqual(rows, (len(inbox), len(inbox), new_uv, new_uv))
        # And the rows point at the new UIDs.
        got = {r[0] for r in self.query(conf, "SELECT uid FROM messages WHERE mailbox='Projects'")}
        self.assertEqual(got, set(self.dovecot.uids("Projects")))
        self.assertEqual(self.query(conf, "SELECT uidvalidity FROM sync_state "
                                          "WHERE mailbox='Projects'"), [(new_uv,)])
        # A further sync changes nothing.
        self.rf(conf, "sync", "--once")
        self.assertEqual(self.query(conf, "SELECT COUNT(*) FROM messages WHERE "
                                          "mailbox='Projects'")[0][0], len(inbox))
