#!/usr/bin/env python3
"""bench/breakdown_report.py RESULTS.tsv [--json]: report for bench/breakdown.sh.

Rows: part, variant, tweak, phase, rep, wall, then name=cpu_seconds for each component and
"machine" (all CPU used on the machine during the run, ours included)."""
import json, statistics, sys
from collections import defaultdict

COMPONENTS = ["borg-create", "borg-serve", "ssh", "sshd", "socat-srv", "relay"]
rows = []
with open(sys.argv[1]) as f:
    for line in f:
        part, v, tweak, phase, rep, wall, *cells = line.rstrip("\n").split("\t")
        cpu = {k: float(x) for k, x in (c.split("=") for c in cells)}
        ours = sum(cpu.get(c, 0.0) for c in COMPONENTS)
        cpu["ours"] = ours
        cpu["others"] = max(0.0, cpu.pop("machine") - ours)
        rows.append(dict(part=part, variant=v, tweak=tweak, phase=phase, rep=int(rep),
                         wall=float(wall), cpu=cpu))

groups = defaultdict(list)
for r in rows:
    groups[(r["part"], r["variant"], r["tweak"], r["phase"])].append(r)

med = statistics.median
summary = []
for (part, v, tweak, phase), rs in groups.items():
    keys = COMPONENTS + ["ours", "others"]
    summary.append(dict(part=part, variant=v, tweak=tweak, phase=phase, n=len(rs),
                        wall=med(r["wall"] for r in rs),
                        wall_min=min(r["wall"] for r in rs), wall_max=max(r["wall"] for r in rs),
                        cpu={k: round(med(r["cpu"].get(k, 0.0) for r in rs), 3) for k in keys}))

def find(part, v, tweak, phase):
    for s in summary:
        if (s["part"], s["variant"], s["tweak"], s["phase"]) == (part, v, tweak, phase):
            return s

tweak_ratios = []
for s in summary:
    if s["part"] != "tweaks":
        continue
    base = find("tweaks", s["variant"], "base", s["phase"])
    push_same = find("tweaks", "push", s["tweak"], s["phase"]) or find("tweaks", "push", "base", s["phase"])
    tweak_ratios.append(dict(variant=s["variant"], tweak=s["tweak"],
                             wall_vs_base=round(s["wall"] / base["wall"], 3) if base else None,
                             cpu_vs_base=round(s["cpu"]["ours"] / base["cpu"]["ours"], 3) if base else None,
                             pull_vs_push=(round(s["wall"] / push_same["wall"], 3)
                                           if s["variant"] != "push" and push_same else None)))

if "--json" in sys.argv:
    json.dump(dict(runs=rows, summary=summary, tweaks=tweak_ratios), sys.stdout, indent=2)
    print()
    sys.exit(0)

short = {"borg-create": "create", "borg-serve": "serve", "ssh": "ssh", "sshd": "sshd",
         "socat-srv": "socat-S", "relay": "relay", "ours": "sum", "others": "others"}
cols = COMPONENTS + ["ours", "others"]

def table(part, title):
    ss = [s for s in summary if s["part"] == part]
    if not ss:
        return
    print(f"\n{title}")
    print(f"{'variant':<11} {'tweak':<17} {'phase':<6} {'wall (min-max)':>19} |"
          + "".join(f"{short[c]:>8}" for c in cols))
    for s in ss:
        w = f"{s['wall']:.2f} ({s['wall_min']:.2f}-{s['wall_max']:.2f})"
        print(f"{s['variant']:<11} {s['tweak']:<17} {s['phase']:<6} {w:>19} |"
              + "".join(f"{s['cpu'][c]:8.2f}" for c in cols))

print("\nCPU seconds per component (medians); create = client borg create, serve = borg serve,")
print("ssh = ssh client, sshd = sshd session processes, socat-S = server socat, relay = client")
print("relay, sum = all of these, others = the rest of the machine during the run (noise)")
table("breakdown", "breakdown (default transport)")
table("tweaks", "tweaks (first full run)")
if tweak_ratios:
    print("\ntweak ratios (medians): wall/base, CPU(sum)/base, pull wall / push wall with the same ssh options")
    for t in tweak_ratios:
        pp = f"{t['pull_vs_push']:.3f}" if t["pull_vs_push"] is not None else "-"
        print(f"  {t['variant']:<11} {t['tweak']:<17} wall {t['wall_vs_base']:.3f}  cpu {t['cpu_vs_base']:.3f}  pull/push {pp}")
