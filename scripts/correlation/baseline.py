#!/usr/bin/env python3
"""Baseline groupings of an alert stream, in `klaxon correlate`'s output shape ({"groups"}).

  time:    alerts whose start falls in the same fixed 10-minute window form one group;
  service: alerts with the same `service` label (else the same `host`) form one group while
           each starts within 30 minutes of the group's previous alert.

Usage: baseline.py time|service ALERTS.ndjson [--window-min 10] [--gap-min 30]
Standard library only.
"""

import argparse
import json
from datetime import datetime


def ms(s):
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def firings(path):
    """(key, labels, start) of each alert, in order, resolutions and resends skipped."""
    seen = set()
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            a = json.loads(line)
            ident = (json.dumps(a["labels"], sort_keys=True), a["startsAt"])
            if ident in seen:
                continue
            seen.add(ident)
            out.append((a.get("key", str(n)), a["labels"], ms(a["startsAt"])))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["time", "service"])
    ap.add_argument("alerts")
    ap.add_argument("--window-min", type=int, default=10)
    ap.add_argument("--gap-min", type=int, default=30)
    args = ap.parse_args()
    groups = {}
    if args.mode == "time":
        w = args.window_min * 60_000
        for key, _, start in firings(args.alerts):
            groups.setdefault(start // w, []).append(key)
        result = [groups[k] for k in sorted(groups)]
    else:
        gap = args.gap_min * 60_000
        open_groups = {}
        result = []
        for key, labels, start in firings(args.alerts):
            ident = labels.get("service") or labels.get("host")
            if ident is None:
                result.append([key])
                continue
            g = open_groups.get(ident)
            if g is None or start - g[0] > gap:
                g = [start, []]
                result.append(g[1])
                open_groups[ident] = g
            g[0] = start
            g[1].append(key)
    print(json.dumps({"groups": result}))


if __name__ == "__main__":
    main()
