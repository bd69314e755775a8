#!/usr/bin/env python3
"""Measures the classifier against labelled mail.

Runs `redflagd classify --json --rules DIR --no-model` (or --model FILE) over every file a labels.csv names (format:
file,signals,lang,note as in the corpus GUIDE.md) and prints per-signal precision and
recall, micro P/R/F1, and the false-positive message rate: the share of signal-free
messages that got any text signal. Time signals are not labelled and not counted.

    eval.py --binary build/redflagd --rules conf/rules CORPUS_DIR [CORPUS_DIR ...]

CORPUS_DIR holds labels.csv and messages/. A directory that does not exist is skipped
with a note (the shared corpus is not part of the repository). With --min-f1/--max-fpr
the exit status says whether the targets were met; with -v every disagreement is listed.
"""
import argparse
import csv
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import split  # noqa: E402

TEXT_SIGNALS = ["rush", "discount", "payment", "after_hours", "scope_creep",
                "cancellation", "praise", "referral"]


def load_labels(corpus):
    labels = {}
    with open(os.path.join(corpus, "labels.csv"), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            sigs = {s for s in row["signals"].split(";") if s}
            unknown = sigs - set(TEXT_SIGNALS)
            if unknown:
                raise SystemExit(f"{corpus}/labels.csv: {row['file']}: unknown {unknown}")
            labels[row["file"]] = (sigs, row.get("lang", ""))
    return labels


def classify(binary, rules, files, extra=("--no-model",)):
    """file path -> (set of text signals, lang, full json object). extra: model options
    for `classify` (default: the rules alone)."""
    out = {}
    for i in range(0, len(files), 200):  # bounded argv
        chunk = files[i:i + 200]
        p = subprocess.run([binary, "classify", "--json", "--rules", rules, *extra] + chunk,
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise SystemExit(f"classify failed ({p.returncode}): {p.stderr}")
        lines = p.stdout.splitlines()
        if len(lines) != len(chunk):
            raise SystemExit(f"classify printed {len(lines)} lines for {len(chunk)} files")
        for line in lines:
            obj = json.loads(line)
            sigs = {s["signal"] for s in obj.get("signals", []) if s["signal"] in TEXT_SIGNALS}
            out[obj["file"]] = (sigs, obj.get("lang"), obj)
    return out


def evaluate(name, labels, got, verbose):
    tp = {s: 0 for s in TEXT_SIGNALS}
    fp = dict(tp)
    fn = dict(tp)
    clean = flagged = lang_ok = lang_n = 0
    for f, (want, lang) in sorted(labels.items()):
        have, glang, obj = got[f]
        for s in TEXT_SIGNALS:
            if s in have and s in want:
                tp[s] += 1
            elif s in have:
                fp[s] += 1
            elif s in want:
                fn[s] += 1
        if not want:
            clean += 1
            flagged += bool(have)
        if lang:
            lang_n += 1
            lang_ok += glang == lang
        if verbose and have != want:
            extra = {s["signal"]: f'{s["rule"]}: {s["excerpt"]}'
                     for s in obj.get("signals", []) if s["signal"] in have - want}
            print(f"  {os.path.basename(f)}: want {sorted(want)} got {sorted(have)} {extra}")

    def pr(t, p, n):
        prec = t / (t + p) if t + p else 1.0
        rec = t / (t + n) if t + n else 1.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        return prec, rec, f1

    print(f"\n{name}: {len(labels)} messages, {clean} signal-free")
    print(f"  {'signal':<14} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>10} {'recall':>7}")
    for s in TEXT_SIGNALS:
        if tp[s] + fp[s] + fn[s] == 0:
            continue
        p, r, _ = pr(tp[s], fp[s], fn[s])
        print(f"  {s:<14} {tp[s]:>4} {fp[s]:>4} {fn[s]:>4} {p:>10.2f} {r:>7.2f}")
    T, P, N = sum(tp.values()), sum(fp.values()), sum(fn.values())
    p, r, f1 = pr(T, P, N)
    fpr = flagged / clean if clean else 0.0
    print(f"  micro: precision {p:.3f}  recall {r:.3f}  F1 {f1:.3f}")
    print(f"  false-positive message rate: {fpr:.3f} ({flagged}/{clean} signal-free messages flagged)")
    if lang_n:
        print(f"  language detected right: {lang_ok}/{lang_n}")
    return f1, fpr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/redflagd")
    ap.add_argument("--rules", default="conf/rules")
    ap.add_argument("--min-f1", type=float)
    ap.add_argument("--max-fpr", type=float)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--model", help="judge with this model file (default: the rules alone)")
    ap.add_argument("--part", choices=("all", "dev", "holdout"), default="all",
                    help="only the files of this part of the split (tests/eval/split.py)")
    ap.add_argument("corpora", nargs="+")
    a = ap.parse_args()
    ok = True
    ran = 0
    for corpus in a.corpora:
        if not os.path.isfile(os.path.join(corpus, "labels.csv")):
            print(f"\n{corpus}: not present, skipped")
            continue
        labels = load_labels(corpus)
        if a.part != "all":
            labels = {f: v for f, v in labels.items() if split.part(f) == a.part}
        files = {os.path.join(corpus, "messages", f): f for f in labels}
        extra = ("--model", a.model) if a.model else ("--no-model",)
        got_by_path = classify(a.binary, a.rules, sorted(files), extra)
        got = {files[p]: v for p, v in got_by_path.items()}
        f1, fpr = evaluate(corpus, labels, got, a.verbose)
        ran += 1
        if a.min_f1 is not None and f1 < a.min_f1:
            ok = False
        if a.max_fpr is not None and fpr > a.max_fpr:
            ok = False
    if ran == 0:
        print("no labelled corpus found")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
