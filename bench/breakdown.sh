#!/bin/bash
# bench/breakdown.sh [--size MB] [--reps N] [--no-tweaks] [--no-breakdown] [--json] [--keep]
#
# Where the time goes, and which cheap transport tweaks help (the product is not changed).
#  1. breakdown: local, push, pull-socat (and pull-relay when borgpull-client is built), first full run and unchanged re-run; the CPU
#     seconds of each component, measured exactly with one cgroup-v1 cpuacct group per
#     component (borg-create, borg-serve, ssh, sshd, socat-srv, relay), plus the CPU used by
#     everything else on the machine during the run (other work disturbs the timing).
#  2. tweaks: first full runs of push and pull-socat with
#       base            defaults (OpenSSH 9.2 picks chacha20-poly1305@openssh.com)
#       aes128-gcm      ssh -c aes128-gcm@openssh.com (AES-NI)
#       socat-b128k     socat -b 131072 on both socat ends (default buffer 8192)
#       aes128-gcm+b128k both
#       ssh-compression ssh -C (Compression=yes; default is no)
#     in alternating order, N reps each; medians and ratios to base.
# Run as root. Everything it starts is stopped on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

SIZE=200 REPS=3 JSON=0 DO_TWEAKS=1 DO_BREAKDOWN=1
TWEAKS="base aes128-gcm socat-b128k aes128-gcm+b128k ssh-compression"
while [ $# -gt 0 ]; do
    case $1 in
        --size) SIZE=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --tweaks) TWEAKS=$2; shift 2 ;;
        --no-tweaks) DO_TWEAKS=0; shift ;;
        --no-breakdown) DO_BREAKDOWN=0; shift ;;
        --json) JSON=1; shift ;;
        --keep) BENCH_KEEP=1; shift ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

"$here/corpus.sh" "$WORKDIR/corpus-$SIZE" "$SIZE" >&2
BENCH_CPU=1 bench_setup "$WORKDIR/corpus-$SIZE"
PULLS="pull-socat"
if [ -x "$BORGPULL_CLIENT" ]; then install_borgpull_client; PULLS+=" pull-relay"; fi
find "$CORPUS" -type f -exec cat {} + >/dev/null
borg --version >/dev/null

RESULTS="$RUN/breakdown.tsv"
: > "$RESULTS"

apply_tweak() {
    SSH_EXTRA_OPTS=() SOCAT_BUF=""
    case $1 in
        base) ;;
        aes128-gcm) SSH_EXTRA_OPTS=(-c aes128-gcm@openssh.com) ;;
        socat-b128k) SOCAT_BUF=131072 ;;
        aes128-gcm+b128k) SSH_EXTRA_OPTS=(-c aes128-gcm@openssh.com); SOCAT_BUF=131072 ;;
        ssh-compression) SSH_EXTRA_OPTS=(-C) ;;
        *) die "unknown tweak $1" ;;
    esac
}

# measure PART VARIANT TWEAK REP PHASES...: run one variant (fresh repo), snapshot cgroups
# around each phase, append one TSV row per phase.
measure() {
    local part=$1 v=$2 tweak=$3 rep=$4; shift 4
    local kind fn user=root
    case $v in
        local) kind=local fn=local_run ;;
        push) kind=push fn=push_run ;;
        pull-socat) kind=pull fn=pull_socat_run user=$CLI_USER ;;
        pull-relay) kind=pull fn=pull_relay_run user=$CLI_USER ;;
    esac
    apply_tweak "$tweak"
    local repo base phase t0 wall before after rc
    repo=$(init_repo "$kind" "$part-$v-$tweak-$rep")
    base=$(base_dir "$part-$v-$tweak-$rep" "$user")
    for phase in "$@"; do
        sync
        before=$(cg_snapshot)
        t0=$(now_ns); rc=0
        "$fn" "$repo" "$base" "bench-$phase" >"$RUN/last.log" 2>&1 || rc=$?
        wall=$(secs_since "$t0")
        after=$(cg_snapshot)
        if [ "$rc" -gt 1 ]; then cat "$RUN/last.log" >&2; die "$v ($tweak) failed rc $rc"; fi
        {
            printf '%s\t%s\t%s\t%s\t%s\t%s' "$part" "$v" "$tweak" "$phase" "$rep" "$wall"
            paste -d' ' <(echo "$before") <(echo "$after") |
                awk '{ printf "\t%s=%.3f", $1, ($4 - $2) / 1e9 }'
            echo
        } >> "$RESULTS"
        log "$part rep $rep $v $tweak $phase ${wall}s"
    done
    rm -rf "$repo"
}

alternate() { # REP WORDS...: the words forward on odd reps, reversed on even ones
    local rep=$1; shift
    local a=("$@") i
    if [ $((rep % 2)) = 1 ]; then echo "${a[*]}"; else
        for ((i=${#a[@]}-1; i>=0; i--)); do printf '%s ' "${a[$i]}"; done; echo; fi
}

if [ "$DO_BREAKDOWN" = 1 ]; then
    for rep in $(seq 1 "$REPS"); do
        for v in $(alternate "$rep" local push $PULLS); do
            measure breakdown "$v" base "$rep" first rerun
        done
    done
fi
if [ "$DO_TWEAKS" = 1 ]; then
    combos=()
    for t in $TWEAKS; do
        for v in push $PULLS; do
            case $t in socat-b128k|aes128-gcm+b128k) [ "$v" = pull-socat ] || continue ;; esac
            combos+=("$v/$t")
        done
    done
    for rep in $(seq 1 "$REPS"); do
        for c in $(alternate "$rep" "${combos[@]}"); do
            measure tweaks "${c%%/*}" "${c#*/}" "$rep" first
        done
    done
fi

python3 "$here/breakdown_report.py" "$RESULTS" $([ "$JSON" = 1 ] && echo --json)
