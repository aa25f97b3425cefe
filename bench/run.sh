#!/bin/bash
# bench/run.sh [--size MB] [--reps N] [--variants LIST] [--sandbox-reps N] [--build] [--json] [--keep] [--workdir DIR]
#
# In ONE invocation, for each repetition, times these variants, each as a first full run
# (fresh repository, fresh borg cache) and an unchanged re-run (second create into the same
# repository with the same cache):
#   local       borg create to a local repository
#   push        borg create ssh://SRV_USER@127.0.0.1:PORT/REPO over the loopback sshd
#   pull        borgpull-server -c CONF BACKUP (when the real commands are built; see README)
#   pull-socat  the interim pull transport: socat + borg serve on the server, ssh -R, the
#               client's borg create through a socat relay (BORG_RSH)
#   pull-relay  the same transport with borgpull-client's built-in relay as BORG_RSH
#               (when .build/release/borgpull-client exists; --build builds it)
#   pull-create, pull-prune  not run separately: the seconds of the client's create and prune
#               steps inside each pull BACKUP, from its result record (steps[].seconds);
#   pull-connect, pull-start, pull-end  the phases before create and after the client's end
#               (see pull-real.sh)
# The order of variants alternates between repetitions (forward, reverse, ...).
# Prints medians (min-max) and the ratios pull/local, pull/push against the aims.
# Then the "sandbox" section (bench/sandbox.sh on the same corpus): borg create to a local
# repository as the runner, with and without the sandbox, --sandbox-reps N times (default 5;
# --sandbox-reps 0 skips it); medians and the ratio sandboxed/plain (aim <= 1.02).
# Run as root. Everything it starts is stopped on exit; scratch data is removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

SIZE=200 REPS=3 JSON=0 VARIANTS="" BUILD=0 NICE=${BENCH_NICE:--10} SANDBOX_REPS=5
while [ $# -gt 0 ]; do
    case $1 in
        --size) SIZE=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --variants) VARIANTS=$2; shift 2 ;;
        --json) JSON=1; shift ;;
        --build) BUILD=1; shift ;;
        --nice) NICE=$2; shift 2 ;;
        --sandbox-reps) SANDBOX_REPS=$2; shift 2 ;;
        --keep) BENCH_KEEP=1; shift ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

. "$here/pull-real.sh"
if [ "$BUILD" = 1 ]; then
    log "building release binaries"
    (cd "$REPO_ROOT" && swift build -c release --static-swift-stdlib >&2)
fi
if [ -z "$VARIANTS" ]; then
    VARIANTS="local push"
    if pull_real_available; then VARIANTS+=" pull"; fi
    VARIANTS+=" pull-socat"
    if [ -x "$BORGPULL_CLIENT" ]; then VARIANTS+=" pull-relay"; fi
fi
read -r -a VLIST <<<"${VARIANTS//,/ }"

"$here/corpus.sh" "$WORKDIR/corpus-$SIZE" "$SIZE" >&2
# Shared, noisy machine: run everything we start (sshd included) at a higher priority, and
# count CPU seconds per component (cgroup v1 cpuacct) as a noise-robust second measure.
[ "$NICE" = 0 ] || renice -n "$NICE" -p $$ >/dev/null
if [ -w /sys/fs/cgroup/cpuacct/cgroup.procs ]; then export BENCH_CPU=1; fi
bench_setup "$WORKDIR/corpus-$SIZE"
for v in "${VLIST[@]}"; do
    case $v in pull) pull_real_setup ;; pull-relay) install_borgpull_client ;; esac
done

# Warm up: corpus in the page cache, borg's Python modules loaded once, one ssh handshake.
find "$CORPUS" -type f -exec cat {} + >/dev/null
borg --version >/dev/null
"${SSH_BASE[@]}" -i "$RUN/ssh/id_push" -p "$PORT" "$SRV_USER@127.0.0.1" </dev/null >/dev/null 2>&1 || true

RESULTS="$RUN/results.tsv"
: > "$RESULTS"

run_variant() { # VARIANT REP
    local v=$1 rep=$2 kind fn user=root
    case $v in
        local) kind=local fn=local_run ;;
        push) kind=push fn=push_run ;;
        pull-socat) kind=pull fn=pull_socat_run user=$CLI_USER ;;
        pull-relay) kind=pull fn=pull_relay_run user=$CLI_USER ;;
        pull) kind=pull fn=pull_real_run user=$(pull_real_borg_user) ;;
        *) die "unknown variant $v" ;;
    esac
    local repo base phase t rc before after cpu
    repo=$(init_repo "$kind" "$v-$rep")
    base=$(base_dir "$v-$rep" "$user")
    # Optional per-variant hooks, outside the timing: VARIANT_prepare REPO BASE, VARIANT_finish.
    if declare -F "${fn%_run}_prepare" >/dev/null; then "${fn%_run}_prepare" "$repo" "$base"; fi
    for phase in first rerun; do
        sync
        before=$( [ -z "${CGROOT:-}" ] || cg_snapshot )
        t=$(now_ns); rc=0
        "$fn" "$repo" "$base" "bench-$phase" >"$RUN/$v-$rep-$phase.log" 2>&1 || rc=$?
        t=$(secs_since "$t")
        after=$( [ -z "${CGROOT:-}" ] || cg_snapshot )
        if declare -F "${fn%_run}_finish" >/dev/null; then "${fn%_run}_finish" >>"$RUN/$v-$rep-$phase.log" 2>&1; fi
        cpu=$(paste -d' ' <(echo "$before") <(echo "$after") | awk '$1 != "" { printf "%s%s=%.3f", sep, $1, ($4 - $2) / 1e9; sep = "," }')
        if [ "$rc" != 0 ]; then
            log "$v rep $rep $phase: rc $rc"; sed 's/^/    /' "$RUN/$v-$rep-$phase.log" >&2
            [ "$rc" = 1 ] || die "$v failed"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$phase" "$rep" "$t" "$rc" "$cpu" >> "$RESULTS"
        log "rep $rep $v $phase ${t}s"
        # Per-step seconds reported by the tool (pull: the client's result record) -> rows V-STEP.
        if [ -s "$RUN/steps.tsv" ]; then
            while IFS=$'\t' read -r step secs; do
                printf '%s\t%s\t%s\t%s\t%s\t\n' "$v-$step" "$phase" "$rep" "$secs" "$rc" >> "$RESULTS"
                log "rep $rep $v-$step $phase ${secs}s"
            done < "$RUN/steps.tsv"
        fi
        rm -f "$RUN/steps.tsv"
    done
    rm -rf "$repo"
}

for rep in $(seq 1 "$REPS"); do
    order=("${VLIST[@]}")
    if [ $((rep % 2)) = 0 ]; then
        order=(); for ((i=${#VLIST[@]}-1; i>=0; i--)); do order+=("${VLIST[$i]}"); done
    fi
    for v in "${order[@]}"; do run_variant "$v" "$rep"; done
done

python3 "$here/report.py" "$RESULTS" --size "$SIZE" --reps "$REPS" \
    --encryption "$ENCRYPTION" --compression "$COMPRESSION" --nice "$NICE" $([ "$JSON" = 1 ] && echo --json)

# The sandbox section: same corpus, same borg options, its own alternating reps.
if [ "$SANDBOX_REPS" -gt 0 ]; then
    if [ -x "$BORGPULL_CLIENT" ]; then
        {
            echo
            echo "sandbox: borg create to a local repository as the runner, plain vs sandboxed (aim <= 1.02)"
            mkdir -p "$RUN/sandbox"
            BENCH_CORPUS=$CORPUS BENCH_DIR=$RUN/sandbox BENCH_REPS=$SANDBOX_REPS CLIENT=$BORGPULL_CLIENT \
                BENCH_ENCRYPTION=$ENCRYPTION BENCH_COMPRESSION=$COMPRESSION "$here/sandbox.sh"
        } | if [ "$JSON" = 1 ]; then cat >&2; else cat; fi
    else
        log "sandbox section skipped: $BORGPULL_CLIENT not built (--build)"
    fi
fi
