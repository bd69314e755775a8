"""The units and the install: `systemd-analyze verify` on both units, the sandbox's exposure
score (`systemd-analyze security --offline=true`, at most 2.0), and `make install
DESTDIR=...` laying out the expected tree with lint-clean man pages.

No systemd as PID 1 is needed: both analyses read unit files. Skips when systemd-analyze or
make is missing.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNITS = ("redflagd.service", "redflagd@.service")
MAX_EXPOSURE = 2.0


def have(tool):
    return shutil.which(tool) is not None


@unittest.skipUnless(have("systemd-analyze"), "systemd-analyze not installed")
class UnitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rf-units-")
        binary = os.path.abspath(harness.BIN)
        # The units name the installed binary; verify checks that ExecStart= exists, so the
        # copies point at the one under test.
        for u in UNITS:
            with open(os.path.join(ROOT, "systemd", u)) as f:
                text = f.read()
            with open(os.path.join(cls.tmp, u), "w") as f:
                f.write(text.replace("/usr/local/bin/redflagd", binary))
        # Documentation=man:... is checked too: the repository's pages.
        cls.env = dict(os.environ, MANPATH=os.path.join(ROOT, "docs", "man"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def analyze(self, *args):
        return subprocess.run(["systemd-analyze", *args], cwd=self.tmp, env=self.env,
                              capture_output=True, text=True, timeout=60)

    def test_verify(self):
        for unit in ("redflagd.service", "redflagd@studio.service"):
            p = self.analyze("verify", unit)
            self.assertEqual(p.returncode, 0, f"{unit}:\n{p.stdout}{p.stderr}")
            self.assertEqual(p.stderr.strip(), "", f"{unit} warnings:\n{p.stderr}")

    def test_exposure(self):
        for unit in ("redflagd.service", "redflagd@studio.service"):
            p = self.analyze("security", "--offline=true", "--no-pager", unit)
            m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout)
            self.assertIsNotNone(m, f"no exposure score in:\n{p.stdout}{p.stderr}")
            score = float(m.group(1))
            print(f"\n  {unit}: exposure {score}", end="", flush=True)
            self.assertLessEqual(score, MAX_EXPOSURE, p.stdout)

    def test_sandbox_essentials(self):
        """The settings the daemon's design depends on are present in both units."""
        for u in UNITS:
            with open(os.path.join(ROOT, "systemd", u)) as f:
                text = f.read()
            for line in ("Type=notify", "ExecReload=", "Restart=on-failure", "DynamicUser=yes",
                         "StateDirectoryMode=0700", "ProtectSystem=strict", "ProtectHome=yes",
                         "PrivateTmp=yes", "PrivateDevices=yes", "NoNewPrivileges=yes",
                         "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                         "SystemCallFilter=@system-service", "CapabilityBoundingSet=\n",
                         "MemoryDenyWriteExecute=yes", "UMask=0077"):
                self.assertIn(line, text, f"{u} lacks {line.strip()}")


def _mdwe():
    """prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN): what MemoryDenyWriteExecute= does."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(65, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_MDWE")


def _mdwe_available():
    try:
        p = subprocess.run(["/bin/true"], preexec_fn=_mdwe, timeout=10)
        return p.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


class MemoryDenyWriteExecuteTest(unittest.TestCase):
    """The unit sets MemoryDenyWriteExecute=yes: PCRE2's JIT cannot map executable memory
    there, and the rules must then give exactly the same signals through the interpreter."""

    @unittest.skipUnless(_mdwe_available(), "kernel without PR_SET_MDWE (Linux < 6.3)")
    def test_classify_same_without_jit(self):
        files = sorted(os.path.join(ROOT, "tests/fixtures/labeled/messages", f)
                       for f in os.listdir(os.path.join(ROOT, "tests/fixtures/labeled/messages")))
        cmd = [os.path.abspath(harness.BIN), "classify", "--json", "--rules",
               os.path.join(ROOT, "conf/rules"), *files[:60]]
        plain = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        walled = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                                preexec_fn=_mdwe)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        self.assertEqual(walled.returncode, 0, walled.stderr)
        self.assertEqual(walled.stdout, plain.stdout)
        self.assertIn('"signal":', plain.stdout)


@unittest.skipUnless(have("make"), "make not installed")
class InstallTest(unittest.TestCase):
    def test_install_tree(self):
        dest = tempfile.mkdtemp(prefix="rf-install-")
        try:
            build = os.path.dirname(os.path.abspath(harness.BIN))
            p = subprocess.run(["make", "-s", "--no-print-directory", "install",
                                f"DESTDIR={dest}", f"BUILD={os.path.relpath(build, ROOT)}"],
                               cwd=ROOT, capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            expect = ["usr/local/bin/redflagd", "usr/local/share/redflagd/signals.conf",
                      "usr/local/share/redflagd/rules/da.conf",
                      "usr/local/share/redflagd/rules/de.conf",
                      "usr/local/share/redflagd/rules/en.conf",
                      "usr/local/share/man/man8/redflagd.8",
                      "usr/local/share/man/man5/redflagd.conf.5",
                      "usr/local/lib/systemd/system/redflagd.service",
                      "usr/local/lib/systemd/system/redflagd@.service",
                      "etc/redflagd/redflagd.conf"]
            expect += [f"usr/local/share/redflagd/templates/{k}.{l}.tmpl"
                       for k in ("onboarding", "farewell") for l in ("da", "de", "en")]
            for rel in expect:
                self.assertTrue(os.path.isfile(os.path.join(dest, rel)), f"missing {rel}")
            self.assertTrue(os.access(os.path.join(dest, "usr/local/bin/redflagd"), os.X_OK))
            # No secrets in it, and the dynamic service user must read it.
            mode = os.stat(os.path.join(dest, "etc/redflagd/redflagd.conf")).st_mode & 0o777
            self.assertEqual(mode, 0o644)
            with open(os.path.join(dest, "usr/local/lib/systemd/system/redflagd@.service")) as f:
                self.assertIn("ExecStart=/usr/local/bin/redflagd -c /etc/redflagd/%i.conf run",
                              f.read())

            # A second install never overwrites the owner's configuration.
            conf = os.path.join(dest, "etc/redflagd/redflagd.conf")
            with open(conf, "a") as f:
                f.write("# edited by the owner\n")
            p = subprocess.run(["make", "-s", "--no-print-directory", "install",
                                f"DESTDIR={dest}", f"BUILD={os.path.relpath(build, ROOT)}"],
                               cwd=ROOT, capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(conf) as f:
                self.assertIn("# edited by the owner", f.read())

            # uninstall removes what install laid down (the configuration stays).
            p = subprocess.run(["make", "-s", "--no-print-directory", "uninstall",
                                f"DESTDIR={dest}"], cwd=ROOT, capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertFalse(os.path.exists(os.path.join(dest, "usr/local/bin/redflagd")))
            self.assertFalse(os.path.exists(os.path.join(dest, "usr/local/share/redflagd")))
            self.assertTrue(os.path.isfile(conf))
        finally:
            shutil.rmtree(dest, ignore_errors=True)

    @unittest.skipUnless(have("mandoc"), "mandoc not installed")
    def test_man_pages_lint_clean(self):
        pages = [os.path.join(ROOT, "docs/man/man8/redflagd.8"),
                 os.path.join(ROOT, "docs/man/man5/redflagd.conf.5")]
        p = subprocess.run(["mandoc", "-Tlint", "-W", "warning", *pages], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual((p.stdout + p.stderr).strip(), "")


if __name__ == "__main__":
    unittest.main()
