#!/usr/bin/env python3
"""Scores a grouping (`klaxon correlate` output, or a baseline's) against the truth.

Pairwise precision, recall and F1 over alert pairs; B-cubed precision, recall and F1; and
compression: groups (incidents, recurring groups and ungrouped alerts, each a group of one)
as a share of alerts. An alert in no predicted group counts as a group of one.

Usage: score.py TRUTH.json PREDICTED.json   (prints one JSON object)
Standard library only.
"""

import json
import sys


def clusters(groups, universe):
    """alert -> cluster id, every alert of the universe in exactly one cluster."""
    of = {}
    for i, g in enumerate(groups):
        for k in g:
            if k in universe and k not in of:
                of[k] = i
    n = len(groups)
    for k in sorted(universe):
        if k not in of:
            of[k] = n
            n += 1
    return of


def score(truth_groups, pred_groups):
    universe = {k for g in truth_groups for k in g}
    t = clusters(truth_groups, universe)
    p = clusters(pred_groups, universe)
    size_t, size_p, both = {}, {}, {}
    for k in universe:
        size_t[t[k]] = size_t.get(t[k], 0) + 1
        size_p[p[k]] = size_p.get(p[k], 0) + 1
        both[(t[k], p[k])] = both.get((t[k], p[k]), 0) + 1

    def pairs(n):
        return n * (n - 1) // 2

    tp = sum(pairs(n) for n in both.values())
    pred_pairs = sum(pairs(n) for n in size_p.values())
    true_pairs = sum(pairs(n) for n in size_t.values())
    pp = tp / pred_pairs if pred_pairs else 1.0
    pr = tp / true_pairs if true_pairs else 1.0
    n = len(universe)
    bp = sum(both[(t[k], p[k])] / size_p[p[k]] for k in universe) / n
    br = sum(both[(t[k], p[k])] / size_t[t[k]] for k in universe) / n

    def f1(a, b):
        return 2 * a * b / (a + b) if a + b else 0.0

    return {
        "alerts": n,
        "pairwise_precision": pp, "pairwise_recall": pr, "pairwise_f1": f1(pp, pr),
        "bcubed_precision": bp, "bcubed_recall": br, "bcubed_f1": f1(bp, br),
        "groups": len(size_p), "true_groups": len(size_t),
        "compression": len(size_p) / n, "reduction": 1 - len(size_p) / n,
    }


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        truth = json.load(f)["groups"]
    with open(sys.argv[2]) as f:
        pred = json.load(f)["groups"]
    print(json.dumps(score(truth, pred)))


if __name__ == "__main__":
    main()
