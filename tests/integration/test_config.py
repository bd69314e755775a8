"""check-config: every error as file:line, exit 1; a good file is OK."""

import os
import re
import subprocess

from harness import BIN, DovecotCase


class CheckConfigTest(DovecotCase):
    def test_good_config(self):
        conf = self.config()
        p = subprocess.run([BIN, "-c", conf, "check-config"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration OK", p.stdout)

    def test_broken_config_reports_every_error_with_file_and_line(self):
        path = os.path.join(self.tmp, "broken.conf")
        with open(path, "w") as f:
            f.write('owner = { name = "X"; addresses = ["x@y.z"]; timezone = "Mars/Base"; };\n'
                    'database = "/tmp/x.db";\n'
                    'accounts = ( { name = "a"; url = "ftp://host"; user = "u";\n'
                    '               password_file = "/nonexistent"; batch_size = 0; } );\n')
        p = subprocess.run([BIN, "-c", path, "check-config"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 1)
        out = p.stdout + p.stderr
        errors = [l for l in out.splitlines() if l.startswith(path + ":")]
        self.assertGreaterEqual(len(errors), 3, out)
        # Each on the line it is about: timezone on 1, url on 3, batch_size on 4.
        lines = {int(l[len(path) + 1:].split(":", 1)[0]) for l in errors}
        self.assertLessEqual({1, 3, 4}, lines, out)
        self.assertNotIn("configuration OK", out)
        self.assertTrue(all(re.match(re.escape(path) + r":\d+: ", l) for l in errors))

    def test_syntax_error_reports_file_and_line(self):
        path = os.path.join(self.tmp, "syntax.conf")
        with open(path, "w") as f:
            f.write('database = "/tmp/x.db";\n\naccounts = ( { name = "a" ; } \n')
        p = subprocess.run([BIN, "-c", path, "check-config"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stdout + p.stderr, re.escape(path) + r":\d+: ")

    def test_group_readable_password_file_is_refused(self):
        conf = self.config("loose.conf")
        os.chmod(os.path.join(os.path.dirname(conf), "imap.pass"), 0o644)
        p = subprocess.run([BIN, "-c", conf, "sync", "--once"], capture_output=True, text=True,
                           timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("chmod 600", p.stderr)
        self.assertNotIn(self.dovecot.password, p.stderr)
