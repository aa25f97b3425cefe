#!/usr/bin/env python3
"""bench/report.py RESULTS.tsv: medians, ranges and ratios for bench/run.sh (table or --json).

RESULTS rows: variant, phase, rep, wall seconds, borg rc, and (when cgroup accounting was
available) comma-separated name=cpu_seconds for each component and "machine"."""
import argparse, json, statistics, sys

COMPONENTS = ["borg-create", "borg-serve", "ssh", "sshd", "socat-srv", "relay", "pull-srv", "pull-cli"]
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
ap.add_argument("--nice", type=int)
ap.add_argument("--json", action="store_true")
a = ap.parse_args()

runs = []
with open(a.results) as f:
    for line in f:
        v, phase, rep, secs, rc, *rest = line.rstrip("\n").split("\t")
        r = dict(variant=v, phase=phase, rep=int(rep), seconds=float(secs), rc=int(rc))
        if rest and rest[0]:
            cpu = {k: float(x) for k, x in (c.split("=") for c in rest[0].split(","))}
            ours = sum(cpu.get(c, 0.0) for c in COMPONENTS)
            r["cpu"] = {**{c: cpu.get(c, 0.0) for c in COMPONENTS}, "ours": round(ours, 3),
                        "others": round(max(0.0, cpu.get("machine", ours) - ours), 3)}
        runs.append(r)

med = statistics.median
variants = list(dict.fromkeys(r["variant"] for r in runs))
stats = {}
for v in variants:
    stats[v] = {}
    for phase in ("first", "rerun"):
        rs = [r for r in runs if r["variant"] == v and r["phase"] == phase]
        if not rs:
            continue
        xs = [r["seconds"] for r in rs]
        s = dict(median=med(xs), min=min(xs), max=max(xs), n=len(xs))
        if all("cpu" in r for r in rs):
            s["cpu"] = {k: round(med(r["cpu"][k] for r in rs), 3) for k in rs[0]["cpu"]}
        stats[v][phase] = s

ratios = []
pulls = [v for v in ("pull-create", "pull", "pull-socat", "pull-relay") if v in stats]
def ratio_row(name, num, den, phase, aim):
    sn, sd = stats[num].get(phase), stats[den].get(phase)
    if not (sn and sd):
        return
    r = sn["median"] / sd["median"]
    row = dict(name=name, numerator=num, denominator=den, phase=phase, ratio=round(r, 3),
               aim=aim, meets_aim=(r <= aim) if aim else None)
    if "cpu" in sn and "cpu" in sd and sd["cpu"]["ours"] > 0:
        row["cpu_ratio"] = round(sn["cpu"]["ours"] / sd["cpu"]["ours"], 3)
    ratios.append(row)
for pv in pulls:
    for name, num, den, phase, aim in AIMS:
        if den in stats:
            ratio_row(name.replace("pull", pv, 1), pv, den, phase, aim)
if "push" in stats and "local" in stats:
    for phase in ("first", "rerun"):
        ratio_row(f"{phase}: push/local", "push", "local", phase, None)

try:
    load = open("/proc/loadavg").read().split()[:3]
except OSError:
    load = []
config = dict(size_mb=a.size, reps=a.reps, encryption=a.encryption, compression=a.compression,
              nice=a.nice, loadavg_at_end=load)

if a.json:
    json.dump(dict(config=config, runs=runs, stats=stats, ratios=ratios), sys.stdout, indent=2)
    print()
    sys.exit(0)

has_cpu = any("cpu" in s for st in stats.values() for s in st.values())
print(f"\nborgpull bench: {a.size} MB corpus, {a.reps} reps, -e {a.encryption}, "
      f"--compression {a.compression}, nice {a.nice}, load avg at end {' '.join(load)}")
print("wall seconds: median (min-max)" + ("; cpu = CPU seconds of all our processes (median),"
      " others = CPU used by the rest of the machine meanwhile" if has_cpu else ""))
hdr = f"{'variant':<12} {'first full run':>20}" + (f" {'cpu':>6} {'others':>6}" if has_cpu else "")
hdr += f"  {'unchanged re-run':>20}" + (f" {'cpu':>6} {'others':>6}" if has_cpu else "")
print(hdr)
def cell(s):
    return f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})" if s else "-"

for v in variants:
    line = f"{v:<12}"
    for phase in ("first", "rerun"):
        s = stats[v].get(phase)
        line += (" " if phase == "first" else "  ") + f"{cell(s):>20}"
        if has_cpu:
            c = s.get("cpu") if s else None
            line += f" {c['ours']:6.2f} {c['others']:6.2f}" if c else f" {'-':>6} {'-':>6}"
    print(line)
if has_cpu:
    print("\nCPU seconds per component, first full run (median)")
    print(f"{'variant':<12}" + "".join(f"{c:>12}" for c in COMPONENTS))
    for v in variants:
        c = stats[v].get("first", {}).get("cpu")
        if c:
            print(f"{v:<12}" + "".join(f"{c[k]:12.2f}" for k in COMPONENTS))
print("\nratios of medians" + (" (wall; cpu = ratio of CPU seconds)" if has_cpu else ""))
for r in ratios:
    aim = f"aim <= {r['aim']:.2f} {'ok' if r['meets_aim'] else 'MISSED'}" if r["aim"] else ""
    cpu = f"cpu {r['cpu_ratio']:.3f}" if "cpu_ratio" in r else ""
    print(f"  {r['name']:<26} {r['ratio']:6.3f}   {aim:<18} {cpu}")
