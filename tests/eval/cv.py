#!/usr/bin/env python3
"""make eval: honest figures for the signals, per signal and per language.

1. The rules alone, over everything, and over the two parts of the split (split.py):
   the development part the rules were written on, and the held-out part nobody read.
2. Rules + model under 5-fold cross-validation: for each fold, `redflagd train` builds a
   model from the other four folds (and the fixture corpus's rows of those folds), and
   `redflagd classify --model` judges the fold. No message is scored by a model that saw it.
3. The owner layer's learning curve: a base model trained on folds 0-1, the owner corrects
   the first N of its mistakes in fold 2 (a miss becomes +signal, a false alarm "wrong"),
   `redflagd train --base` builds the layer, and F1 is measured on folds 3-4.

    cv.py --binary build/redflagd --rules conf/rules CORPUS_DIR [CORPUS_DIR ...]

Corpora that do not exist are skipped with a note. Needs only the binary and python3.
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eval as ev  # noqa: E402
import split  # noqa: E402

LANGS = ("da", "de", "en")
CURVE = (0, 10, 25, 50)


def score(rows, got):
    """rows: [(key, want, lang)], got: key -> set. Returns per-signal counts and totals."""
    tp = {s: 0 for s in ev.TEXT_SIGNALS}
    fp, fn = dict(tp), dict(tp)
    clean = flagged = 0
    for key, want, _ in rows:
        have = got[key]
        for s in ev.TEXT_SIGNALS:
            tp[s] += s in have and s in want
            fp[s] += s in have and s not in want
            fn[s] += s in want and s not in have
        if not want:
            clean += 1
            flagged += bool(have)
    return tp, fp, fn, clean, flagged


def prf(t, p, n):
    prec = t / (t + p) if t + p else 0.0
    rec = t / (t + n) if t + n else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1


def micro(rows, got):
    tp, fp, fn, clean, flagged = score(rows, got)
    p, r, f1 = prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return p, r, f1, (flagged / clean if clean else 0.0), len(rows)


def table(title, rows, got):
    """Prints per-signal P/R/F1 and then one line per language."""
    tp, fp, fn, clean, flagged = score(rows, got)
    print(f"\n{title}: {len(rows)} messages, {clean} signal-free")
    print(f"  {'signal':<13} {'gold':>4} {'tp':>4} {'fp':>4} {'fn':>4}"
          f" {'P':>6} {'R':>6} {'F1':>6}")
    for s in ev.TEXT_SIGNALS:
        if tp[s] + fp[s] + fn[s]:
            p, r, f = prf(tp[s], fp[s], fn[s])
            print(f"  {s:<13} {tp[s] + fn[s]:>4} {tp[s]:>4} {fp[s]:>4} {fn[s]:>4}"
                  f" {p:>6.2f} {r:>6.2f} {f:>6.2f}")
    print(f"  {'':<13} {'n':>4} {'':>14} {'P':>6} {'R':>6} {'F1':>6} {'flagged':>8}")
    for name, sub in [("all", rows)] + [(lang, [x for x in rows if x[2] == lang])
                                         for lang in LANGS]:
        if sub:
            p, r, f, fpr, n = micro(sub, got)
            print(f"  micro {name:<7} {n:>4} {'':>14} {p:>6.2f} {r:>6.2f} {f:>6.2f}"
                  f" {100 * fpr:>7.1f}%")


def load(corpora):
    """[(key=(corpus, file), want, lang)] over every labelled file present."""
    rows = []
    for c in corpora:
        if not os.path.isfile(os.path.join(c, "labels.csv")):
            print(f"{c}: not present, skipped")
            continue
        for f, (want, lang) in sorted(ev.load_labels(c).items()):
            rows.append(((c, f), want, lang))
    return rows


def load_extra(specs):
    """Training-only rows from DIR:CSV specs (labels of mail in DIR/messages)."""
    rows = []
    for spec in specs:
        d, _, path = spec.partition(":")
        if not os.path.isdir(os.path.join(d, "messages")) or not os.path.isfile(path):
            print(f"{spec}: not present, skipped")
            continue
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                want = {x for x in row["signals"].split(";") if x}
                rows.append(((d, row["file"]), want, row.get("lang", "")))
        print(f"{spec}: {len(rows)} messages for training only")
    return rows


def classify(binary, rules, keys, extra):
    paths = {os.path.join(c, "messages", f): (c, f) for c, f in keys}
    got = ev.classify(binary, rules, sorted(paths), extra)
    return {paths[p]: v[0] for p, v in got.items()}


def write_labels(path, rows, want_of=None):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "signals", "lang", "note"])
        for (c, name), want, lang in rows:
            want = want_of(((c, name), want, lang)) if want_of else want
            w.writerow([name, ";".join(s for s in ev.TEXT_SIGNALS if s in want), lang, ""])


TRAIN_ARGS = []


def train(binary, rules, rows, out, tmp, tag, base=None):
    """Trains on rows (grouped by corpus); returns the model path."""
    args = [binary, "train", "--rules", rules, "--out", out, *TRAIN_ARGS]
    by_corpus = {}
    for r in rows:
        by_corpus.setdefault(r[0][0], []).append(r)
    for i, (c, rs) in enumerate(sorted(by_corpus.items())):
        csv_path = os.path.join(tmp, f"{tag}-{i}.csv")
        write_labels(csv_path, rs)
        args += ["--corpus", c, "--labels", csv_path]
    if base:
        args += ["--base", base]
    p = subprocess.run(args, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise SystemExit(f"train failed ({p.returncode}): {p.stderr}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/redflagd")
    ap.add_argument("--rules", default="conf/rules")
    ap.add_argument("--train-args", default="", help="extra options for `redflagd train`")
    ap.add_argument("--skip-rules", action="store_true", help="only the model's figures")
    ap.add_argument("--skip-curve", action="store_true", help="no learning curve")
    ap.add_argument("--train-extra", action="append", default=[], metavar="DIR:CSV",
                    help="labelled mail used for training only, never scored (repeatable)")
    ap.add_argument("corpora", nargs="+")
    a = ap.parse_args()
    TRAIN_ARGS.extend(a.train_args.split())
    rows = load(a.corpora)
    if not rows:
        print("no labelled corpus found")
        return
    keys = [r[0] for r in rows]
    extra = load_extra(a.train_extra)

    if not a.skip_rules:
        rules_only = classify(a.binary, a.rules, keys, ("--no-model",))
        print("=" * 72 + "\n1. The rules alone")
        table("rules alone, every labelled message", rows, rules_only)
        for part in ("dev", "holdout"):
            sub = [r for r in rows
                   if split.part(r[0][1]) == part and "fixtures" not in r[0][0]]
            if sub:
                table(f"rules alone, shared corpus, {part} part", sub, rules_only)

    tmp = tempfile.mkdtemp(prefix="redflagd-eval-")
    try:
        print("\n" + "=" * 72 + f"\n2. Rules + model, {split.FOLDS}-fold cross-validation")
        cv = {}
        for k in range(split.FOLDS):
            test = [r for r in rows if split.fold(r[0][1]) == k]
            model = train(a.binary, a.rules,
                          [r for r in rows if split.fold(r[0][1]) != k] + extra,
                          os.path.join(tmp, f"fold{k}.model"), tmp, f"fold{k}")
            cv.update(classify(a.binary, a.rules, [r[0] for r in test], ("--model", model)))
        table("rules + model (cross-validated), every labelled message", rows, cv)
        shared = [r for r in rows if "fixtures" not in r[0][0]]
        if shared and len(shared) != len(rows):
            table("rules + model (cross-validated), shared corpus only", shared, cv)
        held = [r for r in shared if split.part(r[0][1]) == "holdout"]
        if held:
            # The rules (features of the model) were written on the development part, so
            # there they look better than they are; this is the figure to believe.
            table("rules + model (cross-validated), shared corpus, held-out part", held, cv)
            if not a.skip_rules:
                table("rules alone, the same held-out part (for comparison)", held, rules_only)

        print("\n" + "=" * 72 + "\n3. Owner layer: corrections from fold 2, F1 on folds 3-4")
        base_rows = [r for r in rows if split.fold(r[0][1]) in (0, 1)] + extra
        corr_pool = [r for r in rows if split.fold(r[0][1]) == 2]
        test = [r for r in rows if split.fold(r[0][1]) in (3, 4)]
        base = train(a.binary, a.rules, base_rows, os.path.join(tmp, "base.model"), tmp, "base")
        pred = classify(a.binary, a.rules, [r[0] for r in corr_pool], ("--model", base))
        mistakes = [r for r in corr_pool if pred[r[0]] != r[1]]
        print(f"  base model on folds 0-1 ({len(base_rows)} messages); "
              f"{len(mistakes)} of its {len(corr_pool)} verdicts in fold 2 are wrong")
        print(f"  {'corrections':>11} {'P':>6} {'R':>6} {'F1':>6} {'flagged':>8}")
        for n in CURVE:
            if a.skip_curve:
                break
            extra = ("--model", base)
            if n:
                # What the daemon trains on: the corrected messages with the owner's
                # labels, every other message with the verdict the owner let stand. Past
                # the number of mistakes, a correction only confirms a right verdict.
                fixed = {r[0] for r in mistakes[:n]}
                seen = [(k, w if k in fixed else pred[k], lang) for k, w, lang in corr_pool]
                layer = train(a.binary, a.rules, seen,
                              os.path.join(tmp, f"layer{n}.model"), tmp, f"layer{n}", base)
                extra = ("--model", base, "--layer", layer)
            got = classify(a.binary, a.rules, [r[0] for r in test], extra)
            p, r, f, fpr, _ = micro(test, got)
            note = f"  ({len(mistakes)} mistakes to correct)" if n > len(mistakes) else ""
            print(f"  {n:>11} {p:>6.2f} {r:>6.2f} {f:>6.2f} {100 * fpr:>7.1f}%{note}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
