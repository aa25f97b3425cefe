#!/bin/bash
# Reproduce the syscall measurement behind policy/seccomp/borg.policy (run as root).
# Runs every borg command the client may start, as the runner uid with ambient
# CAP_DAC_READ_SEARCH (like the sandbox, minus seccomp), under `strace -f`, both against a local
# repository and through a Swift relay (relay-probe.swift) as BORG_RSH to a socat+`borg serve`
# listener: the production transport. Prints the union of syscall names that were attempted
# (including failed ones: under kill_process a failed probe would be fatal too).
# Second mode, LEARN=1: run the same commands through the real sandbox
# (`borgpull-client sandbox-exec`, CLIENT=path) with borg.policy's default switched to `log`
# (SCMP_ACT_LOG), twice (with and without BORG_HOST_ID), and print the syscalls the kernel logged
# (dmesg audit type=1326): every one of them would have been killed by the shipped policy.
# Usage: measure.sh [OUTDIR]   (default /tmp/bp-measure)   RELAY=/path/to/relay-binary optional
# BORG=/path/to/borg measures that borg (e.g. the borg 1.4 venv of .ci/borg-venv.sh) instead of
# the first borg on PATH; it serves the relay mode too.
set -euo pipefail
if [ -n "${BORG:-}" ]; then export PATH="$(dirname "$BORG"):$PATH"; fi
echo "measuring $(command -v borg): $(borg --version)" >&2
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-/tmp/bp-measure}
runner=borgpull-test-runner
id -u "$runner" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$runner"
uid=$(id -u "$runner"); gid=$(id -g "$runner")
rm -rf "$out"; mkdir -p "$out"/{src,traces,base}
relay=${RELAY:-$out/relay-probe}
[ -n "${RELAY:-}" ] || swiftc -O "$here/relay-probe.swift" -o "$relay"
chmod 0755 "$out"; chown "$uid:$gid" "$out"   # runner writes repos/sockets here; src/ stays root's
# source tree: a root-only file, a symlink, some data
head -c 3000000 /dev/urandom > "$out/src/random.bin"
seq 1 200000 > "$out/src/text.txt"
echo secret > "$out/src/root-only"; chmod 0600 "$out/src/root-only"
ln -s text.txt "$out/src/link"
# an xattr and a POSIX ACL (user:nobody:r--), so borg's metadata paths run too
python3 - "$out/src" <<'PY'
import os, struct, sys
d = sys.argv[1]
os.setxattr(f"{d}/text.txt", "user.test", b"hello")
acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in
      [(1, 6, 0xFFFFFFFF), (2, 4, 65534), (4, 4, 0xFFFFFFFF), (0x10, 4, 0xFFFFFFFF), (0x20, 4, 0xFFFFFFFF)])
os.setxattr(f"{d}/random.bin", "system.posix_acl_access", acl)
PY
mkdir -p "$out/src/dir"; echo x > "$out/src/dir/f"; mkfifo "$out/src/fifo"
chown -R "$uid:$gid" "$out/base" "$out/traces"
# TMPDIR as BorgCommands sets it (Landlock keeps /tmp read-only to borg in the LEARN run).
export BORG_PASSPHRASE=measure BORG_BASE_DIR=$out/base BORG_HOST_ID=measure@1 BORG_RELOCATED_REPO_ACCESS_IS_OK=yes TMPDIR=$out/base
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_DELETE_I_KNOW_WHAT_I_AM_DOING=YES
learn=${LEARN:-0}
if [ "$learn" = 1 ]; then
  client=${CLIENT:?set CLIENT=/path/to/borgpull-client}
  sed 's/^default kill_process$/default log # why: learning run of measure.sh/' "${POLICY:-$here/../borg.policy}" > "$out/learn.policy"
  chown root:root "$out/learn.policy"; chmod 0644 "$out/learn.policy"
  dmesg_start=$(dmesg | wc -l)
fi
sand=(setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=+dac_read_search --ambient-caps=+dac_read_search)
n=0
run() { # run NAME borg-args... : traced as the runner
  n=$((n+1))
  if [ "$learn" = 1 ]; then
    (cd "$out/src" && "$client" sandbox-exec --runner-uid "$uid" --runner-gid "$gid" --writable "$out" --policy "$out/learn.policy" \
      -- "$(command -v "$2")" "${@:3}") >/dev/null 2>"$out/traces/$n-$1.err" || echo "note: $1 exited $?" >&2
    return
  fi
  (cd "$out/src" && "${sand[@]}" strace -f -qq -e trace=all -o "$out/traces/$n-$1.trace" "${@:2}") >/dev/null 2>"$out/traces/$n-$1.err" \
    || echo "note: $1 exited $?" >&2
}
modes="local relay"; [ "$learn" = 1 ] && modes="local relay local-nohostid"
for mode in $modes; do
  [ $mode = local-nohostid ] && { unset BORG_HOST_ID; rm -rf "$out/repo-local" "$out/restore"; }
  if [ $mode != relay ]; then
    repo=$out/repo-local
    export -n BORG_RSH || true
  else
    repo=ssh://client/$out/repo-relay
    sock=$out/sock
    setpriv --reuid="$uid" --regid="$gid" --clear-groups \
      socat UNIX-LISTEN:"$sock",fork,unlink-early EXEC:"borg serve --restrict-to-path $out/repo-relay" &
    socat_pid=$!
    for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    export BORG_RSH="$relay $sock"
  fi
  run version borg --version
  run init borg init -e repokey "$repo"
  run create borg create --stats "$repo::a1" "$out/src"
  run create2 borg create --stats "$repo::a2" "$out/src"
  run list borg list "$repo"
  run info borg info "$repo::a1"
  run extract borg extract --dry-run "$repo::a1"
  run prune borg prune --keep-last 1 --glob-archives 'a*' "$repo"
  run check borg check "$repo"
  run compact borg compact "$repo"
  if [ $mode != relay ]; then  # a real extract (writes files, xattrs, ACLs) into a runner-owned dir
    mkdir -p "$out/restore"; chown "$uid:$gid" "$out/restore"
    if [ "$learn" = 1 ]; then
      (cd "$out/restore" && "$client" sandbox-exec --runner-uid "$uid" --runner-gid "$gid" --writable "$out" --policy "$out/learn.policy" \
        -- "$(command -v borg)" extract "$repo::a2") >/dev/null 2>&1 || echo "note: extract exited $?" >&2
    else
    (cd "$out/restore" && "${sand[@]}" strace -f -qq -e trace=all -o "$out/traces/99-extract-real.trace" borg extract "$repo::a2") \
      >/dev/null 2>"$out/traces/99-extract-real.err" || echo "note: extract exited $?" >&2
    fi
  fi
  run delete borg delete "$repo::a2"
  [ $mode = relay ] && { kill "$socat_pid"; wait "$socat_pid" 2>/dev/null || true; }
done
if [ "$learn" = 1 ]; then
  dmesg | tail -n +"$((dmesg_start + 1))" | { grep -o 'type=1326.* syscall=[0-9]*' || true; } | sed 's/.* syscall=//' | sort -un \
    | while read -r nr; do awk -v nr="$nr" '$1 == "#define" && $3 == nr { sub("__NR_", "", $2); print $2 }' \
        /usr/include/x86_64-linux-gnu/asm/unistd_64.h; done | sort -u > "$out/logged.txt"
  echo "syscalls logged (missing from borg.policy): $(wc -l < "$out/logged.txt")" >&2
  cat "$out/logged.txt"
  exit 0
fi
sed -E 's/^[0-9]+ +//; s/^<\.\.\. ([a-z0-9_]+) resumed>.*/\1/; s/^([a-z0-9_]+)\(.*/\1/' "$out"/traces/*.trace \
  | grep -E '^[a-z0-9_]+$' | grep -vE '^(exited|killed)$' | sort -u > "$out/syscalls.txt"
wc -l < "$out/syscalls.txt" >&2
cat "$out/syscalls.txt"
