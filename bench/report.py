#!/usr/bin/env python3
"""bench/report.py RESULTS.tsv [--rss RSS.tsv] [--sandbox OUT]: medians, ratios and aims for bench/run.sh.

RESULTS rows: workload, row, phase (first, rerun, incr), rep, wall seconds, rc, and (cgroup
accounting) comma-separated name=cpu_seconds per component and "machine". RSS rows: workload,
phase, rep, role, peak kB (bench/rss.py). OUT: bench/sandbox.sh's output (its ratio lines)."""
import argparse, json, re, statistics, sys

COMPONENTS = ["borg-create", "borg-serve", "ssh", "sshd", "socat-srv", "relay", "pull-srv", "pull-cli"]
PHASES = ("first", "rerun", "incr")
PHASE_NAME = {"first": "first", "rerun": "unchanged", "incr": "incremental"}
# (numerator, denominator, phase, aim, note). The aims are the (judged on the files workload).
RATIOS = [
    ("pull", "push+prune", "first", 1.05, ""),
    ("pull", "push+prune", "incr", 1.10, ""),
    ("pull", "push+prune", "rerun", None, ""),
    ("pull-create", "local", "first", 1.3, "pinned"),
    ("pull-create", "push", "first", None, ""),
    ("pull-create", "push", "incr", None, ""),
    ("pull", "local", "first", None, ""),
    ("pull", "local", "incr", None, ""),
    ("pull", "local", "rerun", None, ""),
    ("push+prune", "local", "first", None, ""),
    ("push+prune", "local", "incr", None, ""),
    ("push", "local", "first", None, ""),
    ("push", "local", "incr", None, ""),
]
RSS_AIM_MB = 20.0
SANDBOX_AIM = 1.02

ap = argparse.ArgumentParser()
ap.add_argument("results")
ap.add_argument("--rss")
ap.add_argument("--sandbox")
ap.add_argument("--fleet")
ap.add_argument("--fleet-workload")
for k in ("size", "files", "reps", "nice", "seconds"):
    ap.add_argument(f"--{k}", type=int)
for k in ("encryption", "compression", "pin"):
    ap.add_argument(f"--{k}")
ap.add_argument("--json", action="store_true")
a = ap.parse_args()

runs = []
for line in open(a.results):
    w, v, phase, rep, secs, rc, *rest = line.rstrip("\n").split("\t")
    r = dict(workload=w, row=v, phase=phase, rep=int(rep), seconds=float(secs), rc=int(rc))
    if rest and rest[0]:
        cpu = {k: float(x) for k, x in (c.split("=") for c in rest[0].split(","))}
        ours = sum(cpu.get(c, 0.0) for c in COMPONENTS)
        r["cpu"] = {**{c: cpu.get(c, 0.0) for c in COMPONENTS}, "ours": round(ours, 3),
                    "others": round(max(0.0, cpu.get("machine", ours) - ours), 3)}
    runs.append(r)
# push+prune runs carry the CPU; their create part is the row "push" (wall only).
med = statistics.median
workloads = list(dict.fromkeys(r["workload"] for r in runs))
stats = {}
for w in workloads:
    stats[w] = {}
    rows = list(dict.fromkeys(r["row"] for r in runs if r["workload"] == w))
    for v in rows:
        stats[w][v] = {}
        for phase in PHASES:
            rs = [r for r in runs if r["workload"] == w and r["row"] == v and r["phase"] == phase]
            if not rs:
                continue
            xs = [r["seconds"] for r in rs]
            s = dict(median=med(xs), min=min(xs), max=max(xs), n=len(xs))
            if all("cpu" in r for r in rs):
                s["cpu"] = {k: round(med(r["cpu"][k] for r in rs), 3) for k in rs[0]["cpu"]}
            stats[w][v][phase] = s

ratios = []
for w in workloads:
    for num, den, phase, aim, note in RATIOS:
        sn, sd = stats[w].get(num, {}).get(phase), stats[w].get(den, {}).get(phase)
        if not (sn and sd):
            continue
        r = sn["median"] / sd["median"]
        row = dict(workload=w, name=f"{PHASE_NAME[phase]}: {num}/{den}", numerator=num, denominator=den,
                   phase=phase, ratio=round(r, 3), aim=aim, meets_aim=(round(r, 3) <= aim) if aim else None)
        if note == "pinned" and a.pin != "on":
            row["note"] = "aim is for the pinned (two-host) run"
        if "cpu" in sn and "cpu" in sd and sd["cpu"]["ours"] > 0:
            row["cpu_ratio"] = round(sn["cpu"]["ours"] / sd["cpu"]["ours"], 3)
        ratios.append(row)

# Fixed cost per run: what the whole run pays besides its borg create and borg prune.
fixed = {}
for w in workloads:
    st = stats[w]
    for whole, parts in (("pull", ("pull-create", "pull-prune")), ("push+prune", ("push", "push-prune"))):
        for phase in PHASES:
            if all(st.get(x, {}).get(phase) for x in (whole,) + parts):
                fixed.setdefault(w, {}).setdefault(whole, {})[phase] = round(
                    st[whole][phase]["median"] - sum(st[p][phase]["median"] for p in parts), 3)

rss = {}
if a.rss:
    for line in open(a.rss):
        w, phase, rep, role, kb = line.split()
        rss.setdefault(role, []).append(int(kb))
rss_peak = {role: round(max(v) / 1024, 1) for role, v in rss.items()}
sandbox = {}
if a.sandbox:
    text = open(a.sandbox).read()
    for kind in ("wall", "cpu"):
        m = re.search(rf"median {kind}:.*ratio ([0-9.]+)", text)
        if m:
            sandbox[kind] = float(m.group(1))
    sandbox["text"] = text

fleet = []
if a.fleet:
    for line in open(a.fleet):
        _, n, k, wall, srv, cli, peak, fails = (line.rstrip("\n").split("\t") + [""] * 8)[:8]
        f = dict(workload=a.fleet_workload, clients=int(n), max_concurrent=int(k), wall=float(wall), failures=int(fails or 0),
                 server_cpu=float(srv) if srv else None, client_cpu=float(cli) if cli else None,
                 server_peak_rss_mb=round(int(peak) / 1024, 1) if peak else None)
        if f["server_peak_rss_mb"] is not None:
            f["server_peak_rss_mb_per_concurrent_client"] = round(f["server_peak_rss_mb"] / f["max_concurrent"], 1)
        fleet.append(f)

aims = []
for w in workloads:
    for r in ratios:
        if r["workload"] == w and r["aim"]:
            aims.append(dict(line=f"{w} {r['name']} {r['ratio']:.2f} aim <= {r['aim']:.2f} {'ok' if r['meets_aim'] else 'MISSED'}"
                             + (f" ({r['note']})" if r.get("note") else ""), ok=r["meets_aim"]))
if "wall" in sandbox:
    aims.append(dict(line=f"sandbox: sandboxed/plain {sandbox['wall']:.2f} (cpu {sandbox.get('cpu', 0):.2f}) aim <= {SANDBOX_AIM:.2f} {'ok' if sandbox['wall'] <= SANDBOX_AIM else 'MISSED'}",
                     ok=sandbox["wall"] <= SANDBOX_AIM))
cli = max([v for k, v in rss_peak.items() if k.startswith("client-")], default=None)
if cli is not None:
    aims.append(dict(line=f"memory: borgpull-client peak RSS {cli:.1f} MB aim < {RSS_AIM_MB:.0f} MB {'ok' if cli < RSS_AIM_MB else 'MISSED'}", ok=cli < RSS_AIM_MB))
if "server" in rss_peak:
    s = rss_peak["server"]
    aims.append(dict(line=f"memory: borgpull-server peak RSS {s:.1f} MB aim < {RSS_AIM_MB:.0f} MB {'ok' if s < RSS_AIM_MB else 'MISSED'}", ok=s < RSS_AIM_MB))

try:
    load = open("/proc/loadavg").read().split()[:3]
except OSError:
    load = []
config = dict(workloads=workloads, size_mb=a.size, files=a.files, reps=a.reps, encryption=a.encryption,
              compression=a.compression, nice=a.nice, pin=a.pin, loadavg_at_end=load, seconds=a.seconds)

if a.json:
    json.dump(dict(config=config, runs=runs, stats=stats, ratios=ratios, fixed_cost=fixed, rss_peak_mb=rss_peak,
                   sandbox={k: v for k, v in sandbox.items() if k != "text"}, fleet=fleet, aims=aims), sys.stdout, indent=2)
    print()
    sys.exit(0)

print(f"\nborgpull bench: workloads {', '.join(workloads)} (mixed {a.size} MB, files {a.files} files), {a.reps} reps, "
      f"-e {a.encryption}, --compression {a.compression}, nice {a.nice}, pinning {a.pin}, "
      f"{a.seconds} s, load avg at end {' '.join(load)}")
has_cpu = any("cpu" in s for st in stats.values() for v in st.values() for s in v.values())
print("wall seconds: median (min-max)" + ("; cpu = CPU seconds of our processes, others = the rest of the machine meanwhile (medians)" if has_cpu else ""))
def cell(s):
    return f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})" if s else "-"
for w in workloads:
    print(f"\n[{w}]")
    hdr = f"{'row':<13}"
    for phase in PHASES:
        hdr += f" {PHASE_NAME[phase]:>20}" + (f" {'cpu':>6} {'others':>6}" if has_cpu else "")
    print(hdr)
    for v, st in stats[w].items():
        line = f"{v:<13}"
        for phase in PHASES:
            s = st.get(phase)
            line += f" {cell(s):>20}"
            if has_cpu:
                c = s.get("cpu") if s else None
                line += f" {c['ours']:6.2f} {c['others']:6.2f}" if c else f" {'':>6} {'':>6}"
        print(line)
    if w in fixed:
        print("fixed cost (whole run minus its create and prune), s: " + "; ".join(
            f"{k} " + " / ".join(f"{PHASE_NAME[p]} {x:.2f}" for p, x in v.items()) for k, v in fixed[w].items()))
    if has_cpu:
        print(f"CPU seconds per component, first full run (median)\n{'row':<13}" + "".join(f"{c:>12}" for c in COMPONENTS))
        for v, st in stats[w].items():
            c = st.get("first", {}).get("cpu")
            if c:
                print(f"{v:<13}" + "".join(f"{c[k]:12.2f}" for k in COMPONENTS))
    print("ratios of medians (wall; cpu = ratio of CPU seconds)")
    for r in (r for r in ratios if r["workload"] == w):
        aim = f"aim <= {r['aim']:.2f} {'ok' if r['meets_aim'] else 'MISSED'}" if r["aim"] else ""
        cpu = f"cpu {r['cpu_ratio']:.3f}" if "cpu_ratio" in r else ""
        print(f"  {r['name']:<34} {r['ratio']:6.3f}   {aim:<18} {cpu}")
if rss_peak:
    print("\npeak RSS (VmHWM, MB, max over all pull runs): " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(rss_peak.items())))
for f in fleet:
    print(f"\nfleet ({f['workload']}): {f['clients']} clients, incremental, at most {f['max_concurrent']} at a time "
          f"(one borgpull-server per client): wall {f['wall']:.2f} s, server CPU {f['server_cpu']} s, client CPU {f['client_cpu']} s, "
          f"peak server-side RSS {f['server_peak_rss_mb']} MB = {f.get('server_peak_rss_mb_per_concurrent_client')} MB per concurrent client"
          + (f", {f['failures']} FAILED" if f["failures"] else ""))
if sandbox.get("text"):
    print("\nsandbox: borg create to a local repository as the runner, plain vs sandboxed (aim <= 1.02)")
    print(sandbox["text"].rstrip())
print("\naims")
for x in aims:
    print(x["line"])
