#!/usr/bin/env python3
"""bench/rss.py OUT CLIENT_BIN SERVER_BIN [CGROUP_DIR...]: peak memory of the borgpull processes.

Samples every 20 ms, until SIGTERM, the processes whose executable is CLIENT_BIN or SERVER_BIN
(the bench's own copies, so other jobs' processes never count) and, when cgroup directories are
given (the bench's cpuacct groups pull-srv, pull-cli), only the processes listed in them.
VmHWM (the kernel's peak RSS of a process) is kept per role: server, client-backup (the BACKUP
process), client-trigger, client-relay; plus srv-total-kb, the peak of the summed VmRSS of all
processes in the first cgroup (the whole server side: borgpull-server, socat, borg serve, ssh).
Writes "role kB" lines to OUT."""
import os, signal, sys, time

out, client, server, cgroups = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
peak, stop = {}, False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)

def pids():
    if not cgroups:
        return [(int(p), 0) for p in os.listdir("/proc") if p.isdigit()]
    res = []
    for i, g in enumerate(cgroups):
        try:
            res += [(int(x), i) for x in open(os.path.join(g, "cgroup.procs")).read().split()]
        except OSError:
            pass
    return res

def status(pid):
    d = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        if k in ("VmHWM", "VmRSS"):
            d[k] = int(v.split()[0])
    return d

while not stop:
    srv_total = 0
    for pid, group in pids():
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            st = status(pid)
            if cgroups and group == 0:
                srv_total += st.get("VmRSS", 0)
            if exe not in (client, server):
                continue
            if exe == server:
                role = "server"
            else:
                argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
                word = argv[1].decode() if len(argv) > 1 else ""
                role = {"trigger": "client-trigger", "relay": "client-relay", "sandbox-exec": "client-sandbox-exec"}.get(word, "client-backup")
            peak[role] = max(peak.get(role, 0), st.get("VmHWM", 0))
        except (OSError, ValueError, IndexError):
            continue
    peak["srv-total-kb"] = max(peak.get("srv-total-kb", 0), srv_total)
    time.sleep(0.02)
with open(out, "w") as f:
    for k, v in sorted(peak.items()):
        f.write(f"{k} {v}\n")
