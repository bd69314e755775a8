"""The signal model through the real binary: `train` is deterministic and names what is
wrong with its input; `classify` judges with the model beside the rules, adds "p", and
refuses a damaged model; `check-config` and start-up name a damaged model file."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import rig
from harness import BIN

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(CHECKOUT, "tests", "fixtures", "labeled")
MODEL = os.path.join(CHECKOUT, "conf", "model", "signals.model")


class ModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rf-model-")

    @classmethod
    def tearDownClass(cls):
        rig.rmtree(cls.tmp)

    def run_rf(self, *args, timeout=300):
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)

    def train(self, out, *extra):
        return self.run_rf("train", "--rules", rig.RULES_DIR, "--corpus", FIXTURES,
                           "--folds", "3", "--out", out, *extra)

    def test_train_is_deterministic_and_classify_uses_it(self):
        a, b = os.path.join(self.tmp, "a.model"), os.path.join(self.tmp, "b.model")
        p = self.train(a)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("trained a model on", p.stdout)
        self.assertEqual(self.train(b).returncode, 0)
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read(), "same corpus, same seed: same bytes")
        p = self.train(b, "--seed", "2")
        self.assertEqual(p.returncode, 0, p.stderr)

        mails = sorted(os.listdir(os.path.join(FIXTURES, "messages")))[:20]
        paths = [os.path.join(FIXTURES, "messages", m) for m in mails]
        p = self.run_rf("classify", "--json", "--rules", rig.RULES_DIR, "--model", a, *paths)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [json.loads(x) for x in p.stdout.splitlines()]
        self.assertEqual(len(lines), len(paths))
        judged = [s for obj in lines for s in obj["signals"] if "p" in s]
        self.assertTrue(judged, "the model judged some signal of 20 labelled mails")
        for s in judged:
            self.assertTrue(0.0 <= s["p"] <= 1.0, s)
            self.assertTrue(s["rule"].startswith(("model.", "en.", "de.", "da.")), s)
        # --no-model: the rules alone, no "p" anywhere.
        p = self.run_rf("classify", "--json", "--rules", rig.RULES_DIR, "--no-model", *paths)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn('"p":', p.stdout)

    def test_train_names_a_missing_file_and_a_bad_label(self):
        corpus = os.path.join(self.tmp, "corpus")
        os.makedirs(os.path.join(corpus, "messages"), exist_ok=True)
        first = sorted(os.listdir(os.path.join(FIXTURES, "messages")))[0]
        shutil.copy(os.path.join(FIXTURES, "messages", first), os.path.join(corpus, "messages"))
        labels = os.path.join(corpus, "labels.csv")
        with open(labels, "w") as f:
            f.write(f"file,signals,lang,note\n{first},rush,en,x\ngone.eml,,en,x\n")
        p = self.run_rf("train", "--rules", rig.RULES_DIR, "--corpus", corpus, "--out",
                        os.path.join(self.tmp, "x.model"))
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{labels}:3:", p.stderr)
        self.assertIn("gone.eml", p.stderr)
        with open(labels, "w") as f:
            f.write(f"file,signals,lang,note\n{first},rush;hurry,en,x\n")
        p = self.run_rf("train", "--rules", rig.RULES_DIR, "--corpus", corpus, "--out",
                        os.path.join(self.tmp, "x.model"))
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{labels}:2: unknown text signal \"hurry\"", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x.model")))

    def test_damaged_model_is_refused_everywhere(self):
        if not os.path.exists(MODEL):
            self.skipTest("no shipped model (make model)")
        # A copy of the shipped data, so the model beside the rules can be damaged.
        share = os.path.join(self.tmp, "share")
        shutil.copytree(os.path.join(CHECKOUT, "conf", "rules"), os.path.join(share, "rules"))
        shutil.copy(os.path.join(CHECKOUT, "conf", "signals.conf"), share)
        os.makedirs(os.path.join(share, "model"))
        model = os.path.join(share, "model", "signals.model")
        with open(MODEL, "rb") as f:
            data = f.read()
        mail = os.path.join(FIXTURES, "messages",
                            sorted(os.listdir(os.path.join(FIXTURES, "messages")))[0])
        conf = os.path.join(self.tmp, "rf.conf")
        with open(conf, "w") as f:
            f.write(f'owner = {{ name = "T"; addresses = ["t@studio.test"]; }};\n'
                    f'database = "{self.tmp}/rf.db";\nrules = "{share}/rules";\n'
                    f'accounts = ( {{ name = "a"; url = "imap://127.0.0.1:9"; tls = "none"; '
                    f'user = "u"; password_env = "RF_TEST_PW"; }} );\n')
        cases = {
            "truncated": data[: len(data) // 2],
            "checksum": data.replace(b"\n0", b"\n1", 1),
            "version": data.replace(b"redflagd-model 1", b"redflagd-model 9", 1),
            "not a redflagd model": b"hello\n",
        }
        env = dict(os.environ, RF_TEST_PW="x")
        for why, content in cases.items():
            with open(model, "wb") as f:
                f.write(content)
            p = self.run_rf("classify", "--rules", os.path.join(share, "rules"), mail)
            self.assertEqual(p.returncode, 1, (why, p.stdout))
            self.assertIn(model, p.stderr, why)
            self.assertIn(why, p.stderr)
            p = subprocess.run([BIN, "-c", conf, "check-config"], capture_output=True,
                               text=True, timeout=60, env=env)
            self.assertEqual(p.returncode, 1, (why, p.stdout))
            self.assertIn(model, p.stderr, why)
            self.assertNotIn("configuration OK", p.stdout)
            p = subprocess.run([BIN, "-c", conf, "sync", "--once"], capture_output=True,
                               text=True, timeout=60, env=env)
            self.assertEqual(p.returncode, 1, why)
            self.assertIn(model, p.stderr, why)
        # No model at all: the rules alone, and check-config says so.
        os.unlink(model)
        p = self.run_rf("classify", "--json", "--rules", os.path.join(share, "rules"), mail)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn('"p":', p.stdout)
        p = subprocess.run([BIN, "-c", conf, "check-config"], capture_output=True, text=True,
                           timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("rules alone", p.stdout)


if __name__ == "__main__":
    unittest.main()
