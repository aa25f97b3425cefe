#!/bin/bash
# bench/run.sh [--workload mixed,files] [--reps N] [--size MB] [--files N] [--pin auto|on|off]
#              [--clients N] [--max-concurrent K] [--fleet-workload W]
#              [--variants LIST] [--sandbox-reps N] [--build] [--json] [--keep] [--workdir DIR]
#
# In ONE invocation, for each workload, each repetition, each variant (order alternating between
# repetitions), three timed phases on one repository:
#   first   fresh repository, fresh borg cache: the first full backup
#   rerun   the same corpus again (the files cache makes it a metadata walk)
#   incr    after bench/mutate.py changed 1 % of the files and added 0.5 % (the daily backup);
#           the corpus is reverted after the variant (outside the timing)
# Variants (rows):
#   local       borg create to a local repository
#   push+prune  borg create, then borg prune, over ssh (borgmatic's default actions); rows
#               push (its create) and push-prune (its prune) from the same run
#   pull        borgpull-server -c CONF BACKUP, the real tool end to end; rows pull-create,
#               pull-prune (the client's result record), pull-connect, pull-start, pull-end
#   pull-socat, pull-relay  the interim transport rows (only with --variants; not pinned right)
# Workloads: mixed (--size MB, default 200: 2,541 files) and files (--files N, default 50,000 small
# files in a deep tree). --pin (default auto = on with >= 2 CPUs): client side on CPU 0, server
# side on CPU 1, the local row on CPU 0, as two hosts. Peak RSS of borgpull-client/-server from
# every pull run (bench/rss.py). The fleet (bench/fleet.sh, --clients N, default 4, 0 skips it;
# --max-concurrent K, default 2; on --fleet-workload, default mixed): N clients' incremental
# BACKUPs, K at a time. Then the sandbox section (bench/sandbox.sh on the files corpus,
# --sandbox-reps N, default 3; 0 skips it). The report ends with one line per aim; --json carries the same.
# Run as root. Everything it starts is stopped on exit; scratch data is removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

SIZE=200 FILES=50000 REPS=3 JSON=0 VARIANTS="" BUILD=0 NICE=${BENCH_NICE:--10} SANDBOX_REPS=3
WORKLOADS="mixed,files" PIN=auto CLIENTS=4 MAX_CONCURRENT=2 FLEET_WORKLOAD=mixed
while [ $# -gt 0 ]; do
    case $1 in
        --workload|--workloads) WORKLOADS=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --files) FILES=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --pin) PIN=$2; shift 2 ;;
        --clients) CLIENTS=$2; shift 2 ;;
        --max-concurrent) MAX_CONCURRENT=$2; shift 2 ;;
        --fleet-workload) FLEET_WORKLOAD=$2; shift 2 ;;
        --variants) VARIANTS=$2; shift 2 ;;
        --json) JSON=1; shift ;;
        --build) BUILD=1; shift ;;
        --nice) NICE=$2; shift 2 ;;
        --sandbox-reps) SANDBOX_REPS=$2; shift 2 ;;
        --keep) BENCH_KEEP=1; shift ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

. "$here/pull-real.sh"
. "$here/fleet.sh"
if [ "$BUILD" = 1 ]; then
    log "building release binaries"
    (cd "$REPO_ROOT" && swift build -c release --static-swift-stdlib >&2)
fi
if [ -z "$VARIANTS" ]; then
    VARIANTS="local push+prune"
    if pull_real_available; then VARIANTS+=" pull"; else log "pull row skipped: build first (--build)"; fi
fi
read -r -a VLIST <<<"${VARIANTS//,/ }"
read -r -a WLIST <<<"${WORKLOADS//,/ }"
case $PIN in
    auto) [ "$(nproc)" -ge 2 ] && PIN=on || PIN=off ;;
    on|off) ;;
    *) die "--pin auto|on|off" ;;
esac
if [ "$PIN" = on ]; then
    PIN_CLIENT_CPU=${BENCH_CLIENT_CPU:-0} PIN_SERVER_CPU=${BENCH_SERVER_CPU:-1}
    PIN_CLI=(taskset -c "$PIN_CLIENT_CPU") PIN_SRV=(taskset -c "$PIN_SERVER_CPU")
fi

corpus_dir() { # WORKLOAD -> the cached corpus directory (MANIFEST, data/)
    case $1 in
        mixed) echo "$WORKDIR/corpus-$SIZE" ;;
        files) echo "$WORKDIR/corpus-files-$FILES" ;;
        *) die "unknown workload $1 (mixed, files)" ;;
    esac
}
for w in "${WLIST[@]}"; do
    d=$(corpus_dir "$w")
    case $w in mixed) "$here/corpus.sh" "$d" "$SIZE" mixed >&2 ;; files) "$here/corpus.sh" "$d" "$FILES" files >&2 ;; esac
    python3 "$here/mutate.py" "$d" revert     # a run cut short may have left it changed
done

# Shared, noisy machine: run everything we start (sshd included) at a higher priority, and
# count CPU seconds per component (cgroup v1 cpuacct) as a noise-robust second measure.
[ "$NICE" = 0 ] || renice -n "$NICE" -p $$ >/dev/null
if [ -w /sys/fs/cgroup/cpuacct/cgroup.procs ]; then export BENCH_CPU=1; fi
bench_setup "$(corpus_dir "${WLIST[0]}")"
trap 'bench_cleanup; for w in "${WLIST[@]}"; do python3 "$here/mutate.py" "$(corpus_dir "$w")" revert; done' EXIT
for v in "${VLIST[@]}"; do
    case $v in pull) pull_real_setup
                     trap 'bench_cleanup; pull_real_cleanup; fleet_cleanup; for w in "${WLIST[@]}"; do python3 "$here/mutate.py" "$(corpus_dir "$w")" revert; done' EXIT ;;
               pull-relay) install_borgpull_client ;; esac
done
# Proactive reclaim drops idle page cache (the corpus, borg's modules) behind the bench's back:
# say so in the log, as the reason the corpus is re-read before every timed run.
reclaim=off
for k in /sys/kernel/mm/damon/admin/kdamonds/*/; do
    [ "$(cat "$k/state" 2>/dev/null)" = on ] && grep -qx pageout "$k"/contexts/*/schemes/*/action 2>/dev/null && reclaim="on (DAMON pageout)"
done
log "proactive reclaim: $reclaim; the corpus is read into the page cache before every timed run"
log "pinning: $PIN${PIN_CLI:+ (client side: ${PIN_CLI[*]}, server side: ${PIN_SRV[*]})}; load $(cut -d' ' -f1-3 /proc/loadavg)"

RESULTS="$RUN/results.tsv" RSS="$RUN/rss.tsv"
: > "$RESULTS"; : > "$RSS"
LAST_START=0

warm_corpus() { find "$CORPUS" -type f -exec cat {} + >/dev/null; }

run_variant() { # WORKLOAD VARIANT REP
    local w=$1 v=$2 rep=$3 kind fn user=root
    case $v in
        local) kind=local fn=local_run ;;
        push+prune) kind=push fn=push_prune_run ;;
        push) kind=push fn=push_run ;;
        pull-socat) kind=pull fn=pull_socat_run user=$CLI_USER ;;
        pull-relay) kind=pull fn=pull_relay_run user=$CLI_USER ;;
        pull) kind=pull fn=pull_real_run user=$(pull_real_borg_user) ;;
        *) die "unknown variant $v" ;;
    esac
    local repo base phase t rc before after cpu hook=${fn%_run}
    repo=$(init_repo "$kind" "$w-$v-$rep")
    base=$(base_dir "$w-$v-$rep" "$user")
    # Optional per-variant hooks, outside the timing: VARIANT_prepare REPO BASE, VARIANT_finish.
    if declare -F "${hook}_prepare" >/dev/null; then "${hook}_prepare" "$repo" "$base"; fi
    for phase in first rerun incr; do
        [ "$phase" != incr ] || python3 "$here/mutate.py" "$(dirname "$CORPUS")" apply >&2
        # The corpus back in the page cache before every timed run: a machine with proactive
        # reclaim (a DAMON pageout scheme) drops pages idle for a minute, and a variant's
        # unchanged re-run reads no file data, so the next first run would read from disk.
        warm_corpus
        # Archive names carry {now} (seconds): never start two runs in the same second.
        while [ "$(date +%s)" = "$LAST_START" ]; do sleep 0.05; done
        sync
        before=$( [ -z "${CGROOT:-}" ] || cg_snapshot )
        LAST_START=$(date +%s); t=$(now_ns); rc=0
        "$fn" "$repo" "$base" "bench-$phase" >"$RUN/$w-$v-$rep-$phase.log" 2>&1 || rc=$?
        t=$(secs_since "$t")
        after=$( [ -z "${CGROOT:-}" ] || cg_snapshot )
        if declare -F "${hook}_finish" >/dev/null; then "${hook}_finish" >>"$RUN/$w-$v-$rep-$phase.log" 2>&1; fi
        cpu=$(paste -d' ' <(echo "$before") <(echo "$after") | awk '$1 != "" { printf "%s%s=%.3f", sep, $1, ($4 - $2) / 1e9; sep = "," }')
        if [ "$rc" != 0 ]; then
            log "$w $v rep $rep $phase: rc $rc"; sed 's/^/    /' "$RUN/$w-$v-$rep-$phase.log" >&2
            [ "$rc" = 1 ] || die "$v failed"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$v" "$phase" "$rep" "$t" "$rc" "$cpu" >> "$RESULTS"
        log "$w rep $rep $v $phase ${t}s (load $(cut -d' ' -f1 /proc/loadavg))"
        # Rows measured inside the run (push+prune: its create and prune; pull: the client's steps).
        if [ -s "$RUN/steps.tsv" ]; then
            while IFS=$'\t' read -r row secs; do
                printf '%s\t%s\t%s\t%s\t%s\t%s\t\n' "$w" "$row" "$phase" "$rep" "$secs" "$rc" >> "$RESULTS"
            done < "$RUN/steps.tsv"
        fi
        if [ -s "$RUN/rss.out" ]; then
            while read -r role kb; do printf '%s\t%s\t%s\t%s\t%s\n' "$w" "$phase" "$rep" "$role" "$kb" >> "$RSS"; done < "$RUN/rss.out"
        fi
        rm -f "$RUN/steps.tsv" "$RUN/rss.out"
    done
    python3 "$here/mutate.py" "$(dirname "$CORPUS")" revert
    rm -rf "$repo"
}

T_START=$(date +%s)
for w in "${WLIST[@]}"; do
    CORPUS=$(corpus_dir "$w")/data
    # Warm up: corpus in the page cache, borg's Python modules loaded once, one ssh handshake.
    warm_corpus
    borg --version >/dev/null
    "${SSH_BASE[@]}" -i "$RUN/ssh/id_push" -p "$PORT" "$SRV_USER@127.0.0.1" </dev/null >/dev/null 2>&1 || true
    for rep in $(seq 1 "$REPS"); do
        order=("${VLIST[@]}")
        if [ $((rep % 2)) = 0 ]; then
            order=(); for ((i=${#VLIST[@]}-1; i>=0; i--)); do order+=("${VLIST[$i]}"); done
        fi
        for v in "${order[@]}"; do run_variant "$w" "$v" "$rep"; done
    done
done

# The fleet: N clients, incremental, at most K at a time (needs the pull row).
: > "$RUN/fleet.tsv"
if [ "$CLIENTS" -gt 0 ] && [[ " ${VLIST[*]} " == *" pull "* ]]; then
    CORPUS=$(corpus_dir "$FLEET_WORKLOAD")/data
    [ -d "$CORPUS" ] || { "$here/corpus.sh" "$(dirname "$CORPUS")" "$([ "$FLEET_WORKLOAD" = files ] && echo "$FILES" || echo "$SIZE")" "$FLEET_WORKLOAD" >&2; WLIST+=("$FLEET_WORKLOAD"); }
    find "$CORPUS" -type f -exec cat {} + >/dev/null
    fleet_setup "$CLIENTS"
    fleet_run "$CLIENTS" "$MAX_CONCURRENT"
fi

# The sandbox section: the files workload's corpus when it ran (the aims are judged there; 50,000
# files make the most syscalls per byte), else the first workload's; its own alternating reps.
SANDBOX_OUT="$RUN/sandbox.out"; : > "$SANDBOX_OUT"
if [ "$SANDBOX_REPS" -gt 0 ]; then
    if [ -x "$BORGPULL_CLIENT" ]; then
        mkdir -p "$RUN/sandbox"
        sw=${WLIST[0]}; [[ " ${WLIST[*]} " != *" files "* ]] || sw=files
        BENCH_CORPUS=$(corpus_dir "$sw")/data BENCH_DIR=$RUN/sandbox BENCH_REPS=$SANDBOX_REPS CLIENT=$BORGPULL_CLIENT \
            BENCH_ENCRYPTION=$ENCRYPTION BENCH_COMPRESSION=$COMPRESSION "${PIN_CLI[@]}" "$here/sandbox.sh" > "$SANDBOX_OUT"
    else
        log "sandbox section skipped: $BORGPULL_CLIENT not built (--build)"
    fi
fi

python3 "$here/report.py" "$RESULTS" --rss "$RSS" --sandbox "$SANDBOX_OUT" --fleet "$RUN/fleet.tsv" --fleet-workload "$FLEET_WORKLOAD" --size "$SIZE" --files "$FILES" --reps "$REPS" \
    --encryption "$ENCRYPTION" --compression "$COMPRESSION" --nice "$NICE" --pin "$PIN" \
    --seconds $(( $(date +%s) - T_START )) $([ "$JSON" = 1 ] && echo --json)
