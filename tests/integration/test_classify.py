"""Classification through the whole pipeline: Dovecot → sync → signals in SQLite, explain,
reclassify after a rules change, check-config on a broken pack, classify --json on files."""

import json
import os
import shutil
import subprocess

from harness import BIN, CORPUS, OWNER, DovecotCase

import rig


def mail(frm, to, subject, body, date, mid, extra=""):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
            f"Message-ID: <{mid}>\r\nMIME-Version: 1.0\r\n{extra}"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            f"{body}\r\n").encode()


# (mailbox, raw, Message-ID, expected text signals, expected language)
CASES = [
    ("INBOX", mail("Lars Nørby <lars@bager.dk>", OWNER, "Menukort",
                   "Hej Mette\r\n\r\nKan du sende det reviderede menukort inden i morgen kl. 9? "
                   "Det haster, vi trykker fredag.\r\n\r\nMvh Lars",
                   "Tue, 03 Mar 2026 10:15:00 +0100", "da1@bager.dk"),
     "da1@bager.dk", {"rush"}, "da"),
    ("INBOX", mail("Jörg Müller <joerg@mueller-bau.de>", OWNER, "AW: Angebot Logo",
                   "Hallo Frau Holm,\r\n\r\nvielen Dank für das Angebot. Wäre beim Preis noch "
                   "etwas Rabatt möglich? Wir sind ein kleiner Betrieb.\r\n\r\nViele Grüße\r\n"
                   "Jörg Müller\r\n\r\nAm 02.03.2026 um 09:00 schrieb Mette Holm:\r\n"
                   "> Es eilt nicht, aber bitte bis morgen antworten.",
                   "Tue, 03 Mar 2026 11:00:00 +0100", "de1@mueller-bau.de"),
     "de1@mueller-bau.de", {"discount"}, "de"),
    ("INBOX", mail("Kate Long <kate@longco.example>", OWNER, "Re: new site",
                   "Hi Mette,\r\n\r\nThe new site looks fantastic and you did a great job. "
                   "I have already recommended you to two friends who run shops.\r\n\r\n"
                   "Best, Kate", "Wed, 04 Mar 2026 14:00:00 +0100", "en1@longco.example"),
     "en1@longco.example", {"praise", "referral"}, "en"),
    # A newsletter shouting urgency: no client wrote it, no signals at all.
    ("INBOX", mail("Shop <news@shop.example>", OWNER, "URGENT: 50% discount today only",
                   "Dear customer,\r\n\r\nAct now! Urgent discount, today only.\r\n",
                   "Sat, 07 Mar 2026 22:00:00 +0100", "news1@shop.example",
                   extra="List-Unsubscribe: <mailto:unsub@shop.example>\r\n"),
     "news1@shop.example", set(), "en"),
    # The owner writing on a Saturday evening: sent_after_hours only.
    ("Sent", mail(f"Mette Holm <{OWNER}>", "Lars Nørby <lars@bager.dk>", "Re: Menukort",
                  "Hej Lars\r\n\r\nHer er menukortet, god weekend.\r\n\r\nMette",
                  "Sat, 07 Mar 2026 21:30:00 +0100", "out1@studio.test"),
     "out1@studio.test", set(), "da"),
]


class ClassifyPipelineTest(DovecotCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for mb, raw, *_ in CASES:
            cls.dovecot.append(mb, raw)

    def conf(self, name, rules=None):
        conf = self.config(name)
        # Working time and holidays for the time signals.
        with open(conf) as f:
            text = f.read()
        text = text.replace('timezone = "Europe/Copenhagen"; };',
                            'timezone = "Europe/Copenhagen"; work_hours = "08:00-17:00"; '
                            'work_days = "mon-fri"; holidays = "dk"; };')
        if rules:
            text = text.replace(f'rules = "{rig.RULES_DIR}";', f'rules = "{rules}";')
        with open(conf, "w") as f:
            f.write(text)
        return conf

    def signals(self, conf, mid):
        return {s for (s,) in self.query(conf, "SELECT s.signal FROM signals s JOIN messages m "
                                               "ON m.id = s.message_id WHERE m.message_id = ?",
                                         mid)}

    def test_sync_stores_signals_with_excerpts_and_language(self):
        conf = self.conf("sync.conf")
        self.rf(conf, "sync", "--once")
        for mb, _, mid, want, lang in CASES:
            got = self.signals(conf, mid)
            text_got = got - {"received_after_hours", "sent_after_hours"}
            self.assertEqual(text_got, want, mid)
            (stored_lang,) = self.query(conf, "SELECT lang FROM messages WHERE message_id = ?",
                                        mid)[0]
            self.assertEqual(stored_lang, lang, mid)
        # Time signals: the owner's Saturday-evening mail, nobody else's weekday-hours mail.
        self.assertIn("sent_after_hours", self.signals(conf, "out1@studio.test"))
        self.assertNotIn("received_after_hours", self.signals(conf, "da1@bager.dk"))
        # The quoted "bitte bis morgen" in the German reply is not the author's: no rush.
        self.assertNotIn("rush", self.signals(conf, "de1@mueller-bau.de"))
        # Every stored text signal names its rule and carries the matched words.
        rows = self.query(conf, "SELECT signal, rule, weight, excerpt FROM signals")
        for sig, rule, weight, excerpt in rows:
            self.assertTrue(rule, sig)
            self.assertGreater(weight, 0)
            self.assertTrue(excerpt, sig)
        rush = self.query(conf, "SELECT s.rule, s.excerpt FROM signals s JOIN messages m ON "
                                "m.id = s.message_id WHERE m.message_id = 'da1@bager.dk' AND "
                                "s.signal = 'rush'")
        self.assertTrue(rush[0][0].startswith("da.rush."), rush)
        self.assertTrue("haster" in rush[0][1].lower() or "i morgen" in rush[0][1], rush)
        # stats counts them.
        self.assertEqual(self.stats(conf)["signals"], len(rows))
        # A second sync adds nothing, not even duplicate signals.
        self.rf(conf, "sync", "--once")
        self.assertEqual(len(self.query(conf, "SELECT id FROM signals")), len(rows))

    def test_explain_shows_rule_weight_and_excerpt(self):
        conf = self.conf("explain.conf")
        self.rf(conf, "sync", "--once")
        p = self.rf(conf, "explain", "<en1@longco.example>")
        self.assertIn("praise", p.stdout)
        self.assertIn("referral", p.stdout)
        self.assertIn("en.referral.", p.stdout)
        self.assertIn("recommended you", p.stdout)
        p = self.rf(conf, "explain", "news1@shop.example")
        self.assertIn("no signals", p.stdout)
        self.assertIn("mailing list or automated sender", p.stdout)
        p = self.rf(conf, "explain", "nosuch@example", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no stored message", p.stderr)

    def test_reclassify_applies_a_rules_change(self):
        rules = os.path.join(self.tmp, "rules-copy", "rules")
        shutil.copytree(rig.RULES_DIR, rules)
        shutil.copy(os.path.join(os.path.dirname(rig.RULES_DIR), "signals.conf"),
                    os.path.join(self.tmp, "rules-copy", "signals.conf"))
        conf = self.conf("reclassify.conf", rules=rules)
        self.rf(conf, "sync", "--once")
        self.assertIn("referral", self.signals(conf, "en1@longco.example"))
        before = len(self.query(conf, "SELECT id FROM signals"))

        # Nothing changed: nothing to report.
        p = self.rf(conf, "reclassify")
        self.assertIn("0 changed", p.stdout)
        self.assertEqual(len(self.query(conf, "SELECT id FROM signals")), before)

        # Drop the English referral rule: reclassify removes exactly that signal.
        en = os.path.join(rules, "en.conf")
        with open(en) as f:
            text = f.read()
        start = text.index('  { id = "en.referral.recommend"')
        # The rule ends with its guard list: "]; }" (a "}" inside a pattern's {m,n} is not it).
        end = text.index("]; }", text.index("guards = [", start)) + len("]; }")
        # From the end of the rule before it, so no comma is left dangling.
        start = text.rindex("}", 0, start) + 1
        with open(en, "w") as f:
            f.write(text[:start] + text[end:])
        self.rf(conf, "check-config")
        p = self.rf(conf, "reclassify")
        self.assertIn("1 changed", p.stdout)
        self.assertRegex(p.stdout, r"referral\s+\+0 -1")
        self.assertNotIn("referral", self.signals(conf, "en1@longco.example"))
        self.assertIn("praise", self.signals(conf, "en1@longco.example"))
        self.assertEqual(len(self.query(conf, "SELECT id FROM signals")), before - 1)

    def test_check_config_reports_a_broken_pattern_with_file_and_line(self):
        rules = os.path.join(self.tmp, "broken", "rules")
        os.makedirs(rules)
        shutil.copy(os.path.join(os.path.dirname(rig.RULES_DIR), "signals.conf"),
                    os.path.join(self.tmp, "broken", "signals.conf"))
        with open(os.path.join(rules, "xx.conf"), "w") as f:
            f.write('language = "xx";\nrules = (\n  { id = "xx.rush.bad"; signal = "rush";\n'
                    '    patterns = [ "ok",\n                 "(unclosed" ]; }\n);\n')
        conf = self.conf("broken.conf", rules=rules)
        p = self.rf(conf, "check-config", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, r"xx\.conf:5: rule xx\.rush\.bad: PCRE2 .*missing closing "
                                   r"parenthesis at offset 9")
        # The daemon refuses to start on it too.
        p = self.rf(conf, "sync", "--once", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("xx.conf:5", p.stderr)

    def test_classify_json_contract_without_database(self):
        d = os.path.join(self.tmp, "files")
        os.makedirs(d, exist_ok=True)
        paths = []
        for i, (_, raw, mid, want, lang) in enumerate(CASES):
            path = os.path.join(d, f"{i}.eml")
            with open(path, "wb") as f:
                f.write(raw)
            paths.append((path, mid, want, lang))
        junk = os.path.join(d, "junk.eml")
        with open(junk, "wb") as f:
            f.write(b"\x00\x01 not a message at all")
        missing = os.path.join(d, "missing.eml")
        p = subprocess.run([BIN, "classify", "--json", "--rules", rig.RULES_DIR] +
                           [x[0] for x in paths] + [junk, missing],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [json.loads(x) for x in p.stdout.splitlines()]
        self.assertEqual(len(lines), len(paths) + 2)
        for obj, (path, mid, want, lang) in zip(lines, paths):
            self.assertEqual(obj["file"], path)
            self.assertEqual(obj["message_id"], f"<{mid}>")
            self.assertEqual(obj["lang"], lang)
            self.assertEqual({s["signal"] for s in obj["signals"]}, want, path)
            for s in obj["signals"]:
                # "p" is there when the model judged the signal (DESIGN §4, issue 12).
                self.assertEqual(set(s) - {"p"}, {"signal", "rule", "weight", "excerpt"})
                if "p" in s:
                    self.assertTrue(0.0 <= s["p"] <= 1.0, s)
        self.assertIn("error", lines[-2])
        self.assertIn("error", lines[-1])

    def test_classify_every_torture_message(self):
        tdir = os.path.join(CORPUS, "torture", "messages")
        if not os.path.isdir(tdir):
            self.skipTest("shared corpus not present")
        files = sorted(os.path.join(tdir, f) for f in os.listdir(tdir))
        p = subprocess.run([BIN, "classify", "--json", "--rules", rig.RULES_DIR] + files,
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        lines = [json.loads(x) for x in p.stdout.splitlines()]
        self.assertEqual([x["file"] for x in lines], files)
        errors = sum("error" in x for x in lines)
        print(f"\n  classify on {len(files)} torture files: {errors} unparseable, no crash",
              end=" ")
