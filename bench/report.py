#!/usr/bin/env python3
"""bench/report.py RESULTS.tsv: medians, ranges and ratios for bench/run.sh (table or --json)."""
import argparse, json, statistics, sys

AIMS = [  # (name, numerator, denominator, phase, aim)
    ("first: pull/push", "pull", "push", "first", 1.05),
    ("first: pull/local", "pull", "local", "first", 1.3),
    ("rerun: pull/local", "pull", "local", "rerun", 1.1),
]

ap = argparse.ArgumentParser()
ap.add_argument("results")
ap.add_argument("--size", type=int)
ap.add_argument("--reps", type=int)
ap.add_argument("--encryption")
ap.add_argument("--compression")
ap.add_argument("--json", action="store_true")
a = ap.parse_args()

runs = []
with open(a.results) as f:
    for line in f:
        v, phase, rep, secs, rc = line.rstrip("\n").split("\t")
        runs.append(dict(variant=v, phase=phase, rep=int(rep), seconds=float(secs), rc=int(rc)))

variants = list(dict.fromkeys(r["variant"] for r in runs))
stats = {}
for v in variants:
    stats[v] = {}
    for phase in ("first", "rerun"):
        xs = [r["seconds"] for r in runs if r["variant"] == v and r["phase"] == phase]
        if xs:
            stats[v][phase] = dict(median=statistics.median(xs), min=min(xs), max=max(xs), n=len(xs))

ratios = []
pulls = [v for v in ("pull", "pull-socat", "pull-relay") if v in stats]
for pv in pulls:
    for name, num, den, phase, aim in AIMS:
        if den in stats and phase in stats[pv] and phase in stats[den]:
            r = stats[pv][phase]["median"] / stats[den][phase]["median"]
            ratios.append(dict(name=name.replace("pull", pv, 1) if pv != "pull" else name,
                               numerator=pv, denominator=den, phase=phase,
                               ratio=round(r, 3), aim=aim, meets_aim=r <= aim))
if "push" in stats and "local" in stats:
    for phase in ("first", "rerun"):
        r = stats["push"][phase]["median"] / stats["local"][phase]["median"]
        ratios.append(dict(name=f"{phase}: push/local", numerator="push", denominator="local",
                           phase=phase, ratio=round(r, 3), aim=None, meets_aim=None))

try:
    load = open("/proc/loadavg").read().split()[:3]
except OSError:
    load = []
config = dict(size_mb=a.size, reps=a.reps, encryption=a.encryption, compression=a.compression,
              loadavg_at_end=load)

if a.json:
    json.dump(dict(config=config, runs=runs, stats=stats, ratios=ratios), sys.stdout, indent=2)
    print()
    sys.exit(0)

print(f"\nborgpull bench: {a.size} MB corpus, {a.reps} reps, -e {a.encryption}, "
      f"--compression {a.compression}, load avg at end {' '.join(load)}")
print(f"{'variant':<12} {'first full run (s)':>24} {'unchanged re-run (s)':>24}")
for v in variants:
    cells = []
    for phase in ("first", "rerun"):
        s = stats[v].get(phase)
        cells.append(f"{s['median']:7.2f} ({s['min']:.2f}-{s['max']:.2f})" if s else "-")
    print(f"{v:<12} {cells[0]:>24} {cells[1]:>24}")
print("\nratios of medians")
for r in ratios:
    aim = f"aim <= {r['aim']:.2f}  {'ok' if r['meets_aim'] else 'MISSED'}" if r["aim"] else ""
    print(f"  {r['name']:<26} {r['ratio']:6.3f}   {aim}")
