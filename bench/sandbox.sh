#!/bin/bash
# Benchmark (not a test): `borg create` of a generated corpus to a local repository, as the runner
# user, with and without the sandbox (seccomp filter + capability drop), repetitions alternating.
# Prints each run, the medians and the ratio sandboxed/plain (expected <= 1.02).
#
# Usage (root):  bench/sandbox.sh
#   BENCH_MB=200        corpus size in MB (mixed file sizes, half compressible text, half random)
#   BENCH_REPS=5        repetitions per variant
#   BENCH_DIR=/tmp/borgpull-bench   work directory (corpus is kept and reused if the size matches)
#   CLIENT=.build/release/borgpull-client (default: swift build --show-bin-path)/borgpull-client
#   BENCH_CORPUS=DIR    back up DIR instead of generating a corpus (bench/run.sh passes its corpus)
#   BENCH_ENCRYPTION=repokey-blake2, BENCH_COMPRESSION=lz4   the same options as bench/run.sh
#   BENCH_POLICY=policy/seccomp/borg.policy   the seccomp policy (copied root:root 0644)
# Each repetition is a first (full) backup into a fresh repository, with a fresh BORG_BASE_DIR,
# so no run profits from another's cache. bench/run.sh calls this as its "sandbox" section.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${BENCH_MB:-200}; reps=${BENCH_REPS:-5}; dir=${BENCH_DIR:-/tmp/borgpull-bench}
client=${CLIENT:-$(swift build --show-bin-path 2>/dev/null)/borgpull-client}
encryption=${BENCH_ENCRYPTION:-repokey-blake2}; compression=${BENCH_COMPRESSION:-lz4}
policy_src=${BENCH_POLICY:-policy/seccomp/borg.policy}
client=$(readlink -f "$client" 2>/dev/null || echo "$client")
[ -x "$client" ] || { echo "build first: swift build (client not found at $client)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
runner=borgpull-test-runner
id -u "$runner" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$runner"
uid=$(id -u "$runner"); gid=$(id -g "$runner")

mkdir -p "$dir"
corpus=${BENCH_CORPUS:-$dir/corpus-$mb}
if [ -n "${BENCH_CORPUS:-}" ]; then
  [ -d "$corpus" ] || { echo "BENCH_CORPUS=$corpus is not a directory" >&2; exit 2; }
elif [ ! -f "$corpus/.done" ]; then
  rm -rf "$corpus"; mkdir -p "$corpus"
  python3 - "$corpus" "$mb" <<'PY'
import os, random, sys
root, total = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
rng = random.Random(42)
words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10))) for _ in range(5000)]
# mixed sizes: 30% of the bytes in small files (4-64 KiB), 30% in 512 KiB files, 40% in 4-32 MiB
plan = [(0.3, [4 << 10, 16 << 10, 64 << 10]), (0.3, [512 << 10]), (0.4, [4 << 20, 32 << 20])]
todo = []
for share, choices in plan:
    budget = int(total * share)
    while budget > 0:
        size = min(rng.choice(choices), budget); todo.append(size); budget -= size
rng.shuffle(todo)
written, n = 0, 0
for size in todo:
    d = os.path.join(root, f"d{n % 50:02d}")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"f{n:05d}")
    if n % 2:   # incompressible
        data = os.urandom(size)
    else:       # compressible text
        out, length = [], 0
        while length < size:
            w = rng.choice(words); out.append(w); length += len(w) + 1
        data = b" ".join(out)[:size]
    with open(path, "wb") as f:
        f.write(data)
    written += size; n += 1
print(f"corpus: {n} files, {written >> 20} MB", file=sys.stderr)
PY
  chmod -R go-rwx "$corpus"   # root-only: the runner reads it through CAP_DAC_READ_SEARCH
  touch "$corpus/.done"
fi

policy=$dir/borg.policy
install -o root -g root -m 0644 "$policy_src" "$policy"
work=$dir/runner; rm -rf "$work"; mkdir -p "$work"; chown "$uid:$gid" "$work"; chmod 0700 "$work"
trap 'rm -rf "$work" "$policy"' EXIT
export BORG_PASSPHRASE=bench BORG_HOST_ID=bench@1 BORG_RELOCATED_REPO_ACCESS_IS_OK=yes TMPDIR=$work  # as BorgCommands sets it, in both variants

one() { # one VARIANT REP -> seconds
  local variant=$1 rep=$2 repo=$work/repo-$1-$2 base=$work/base-$1-$2 start end
  local -a wrap
  if [ "$variant" = sandbox ]; then
    wrap=("$client" sandbox-exec --runner-uid "$uid" --runner-gid "$gid" --writable "$work" --policy "$policy" --)
  else  # same runner uid and ambient CAP_DAC_READ_SEARCH, but no seccomp, no bounding/securebits/nnp
    wrap=(setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=+dac_read_search --ambient-caps=+dac_read_search --)
  fi
  BORG_BASE_DIR=$base "${wrap[@]}" /usr/bin/borg init -e "$encryption" "$repo" >"$work/init.log" 2>&1 \
    || { echo "sandbox.sh: borg init ($variant) failed:" >&2; cat "$work/init.log" >&2; return 1; }
  # The corpus in the page cache before the timing (proactive reclaim drops idle pages; see README).
  find "$corpus" -type f -exec cat {} + >/dev/null
  sync
  # wall seconds and CPU seconds (user + sys of borg and its children): CPU time is the steadier
  # number on a shared machine, wall time is what a backup window sees.
  rm -f "$work/time"
  local rc=0
  (cd "$work" && BORG_BASE_DIR=$base /usr/bin/time -q -f "%e %U %S" -o "$work/time" "${wrap[@]}" /usr/bin/borg create --compression "$compression" "$repo::a" "$corpus") >/dev/null 2>"$work/create.log" || rc=$?
  rm -rf "$repo" "$base"
  if [ "$rc" -gt 1 ]; then   # 1 = borg warning (e.g. a file changed), still a complete archive
    echo "sandbox.sh: borg create ($variant) failed with status $rc:" >&2; cat "$work/create.log" >&2; return 1
  fi
  awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$work/time"
}

declare -a plain=() sandbox=() plaincpu=() sandboxcpu=()
for i in $(seq 1 "$reps"); do
  if (( i % 2 )); then order="plain sandbox"; else order="sandbox plain"; fi
  for v in $order; do
    out=$(one "$v" "$i") || exit 1
    read -r t c <<<"$out"
    printf 'rep %d %-7s wall %6.2f s  cpu %6.2f s\n' "$i" "$v" "$t" "$c"
    if [ "$v" = plain ]; then plain+=("$t"); plaincpu+=("$c"); else sandbox+=("$t"); sandboxcpu+=("$c"); fi
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
mp=$(median "${plain[@]}"); ms=$(median "${sandbox[@]}")
cp=$(median "${plaincpu[@]}"); cs=$(median "${sandboxcpu[@]}")
printf 'corpus %s, %d reps, -e %s, --compression %s, load average %s\n' "$corpus" "$reps" "$encryption" "$compression" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'median wall: plain %.2f s, sandboxed %.2f s, ratio %s\n' "$mp" "$ms" "$(ratio "$ms" "$mp")"
printf 'median cpu:  plain %.2f s, sandboxed %.2f s, ratio %s\n' "$cp" "$cs" "$(ratio "$cs" "$cp")"
