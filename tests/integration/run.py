#!/usr/bin/python3
"""Runs every tests/integration/test_*.py against a built redflagd.

    /usr/bin/python3 tests/integration/run.py --binary build/redflagd [-k PATTERN] [-v]

Ends with one line "integration: N passed, N failed, N skipped"; exit status 1 on failure.
"""

import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.environ.get("REDFLAGD", "build/redflagd"))
    ap.add_argument("-k", dest="pattern", help="only tests whose id contains this")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    os.environ["REDFLAGD"] = os.path.abspath(args.binary)
    if not os.access(os.environ["REDFLAGD"], os.X_OK):
        sys.exit(f"integration: no binary at {args.binary}")
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(HERE, "..", "rig"))

    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if args.pattern:
        def flatten(s):
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    yield from flatten(t)
                else:
                    yield t
        suite = unittest.TestSuite(t for t in flatten(suite) if args.pattern in t.id())
    result = unittest.TextTestRunner(verbosity=2 if args.v else 1, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print(f"integration: {passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
