#!/usr/bin/python3
"""Runs every tests/integration/test_*.py against a built redflagd.

    /usr/bin/python3 tests/integration/run.py --binary build/redflagd [-k PATTERN]... [-v]

-k keeps the tests whose id (module.Class.method) contains PATTERN; repeat it for several.
Ends with one line "integration: N passed, N failed, N skipped"; exit status 1 on failure
(a missing binary counts as one failure).
"""

import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.environ.get("REDFLAGD", "build/redflagd"))
    ap.add_argument("-k", dest="patterns", action="append",
                    help="only tests whose id contains this (repeatable)")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    os.environ["REDFLAGD"] = os.path.abspath(args.binary)
    if not os.access(os.environ["REDFLAGD"], os.X_OK):
        print(f"integration: no executable redflagd at {args.binary} (run make first)")
        print("integration: 0 passed, 1 failed, 0 skipped")
        sys.exit(1)
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(HERE, "..", "rig"))

    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if args.patterns:
        def flatten(s):
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    yield from flatten(t)
                else:
                    yield t
        suite = unittest.TestSuite(t for t in flatten(suite)
                                   if any(p in t.id() for p in args.patterns))
    result = unittest.TextTestRunner(verbosity=2 if args.v else 1, stream=sys.stdout).run(suite)
    bad = [t for t, _ in result.failures + result.errors] + result.unexpectedSuccesses
    # A failing setUpClass/tearDownClass is reported as one error that is not a test run:
    # it counts as one failure but must not be subtracted from the tests that ran.
    in_run = [t for t in bad if isinstance(t, unittest.TestCase)]
    failed = len(bad)
    skipped = len(result.skipped)
    passed = result.testsRun - len(in_run) - skipped
    print(f"integration: {passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
