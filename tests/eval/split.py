#!/usr/bin/env python3
"""The fixed split of labelled mail into folds, shared by eval.py and anyone writing rules.

Every labelled file belongs to one of five folds, by a hash of its file name (so the split
does not depend on order, on which corpora are present, or on the machine). Folds 0-2 are
the *development* part: rule authors may read those messages. Folds 3-4 are the *held-out*
part: nobody reads them while writing rules, and eval.py reports the rules-alone figure on
them separately. The model's cross-validation uses all five folds.

    split.py dev|holdout CORPUS_DIR     prints the file names of that part, one per line
"""
import csv
import hashlib
import os
import sys

FOLDS = 5
DEV_FOLDS = (0, 1, 2)


def fold(name):
    """The fold (0..4) of a labelled file, by its base name."""
    h = hashlib.sha256(os.path.basename(name).encode("utf-8")).digest()
    return int.from_bytes(h[:4], "big") % FOLDS


def part(name):
    return "dev" if fold(name) in DEV_FOLDS else "holdout"


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("dev", "holdout"):
        sys.exit("usage: split.py dev|holdout CORPUS_DIR")
    with open(os.path.join(sys.argv[2], "labels.csv"), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if part(row["file"]) == sys.argv[1]:
                print(row["file"])


if __name__ == "__main__":
    main()
