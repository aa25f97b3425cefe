#!/bin/bash
# Stand-in for /usr/bin/borgpull-client, used by trigger-test.sh inside the
# test container until the real helper is installed there. It imitates the real
# helper's shape under run-borg-backup.service: root part (hooks), then a privilege
# drop to borgpull-runner with ambient CAP_DAC_READ_SEARCH and no_new_privs (done
# here with setpriv), borg reaching the forwarded socket in /run/borg, a post step
# that runs even after SIGTERM, and a record in /var/lib/borgpull.
#
# Knobs (optional) in /etc/borgpull/standin.env: SLEEP=seconds, BORG_REPO=url,
# SOCK=/run/borg/... (answers one line), BORG_SOCK=/run/borg/... (borg serve).
set -u
echo "borgpull-client stand-in: args: $*"
echo "borgpull-client stand-in: stderr-marker pid=$$" >&2

[[ ${1:-} == -c && $# -eq 3 ]] || { echo "usage: borgpull-client -c DIR SETUP|BACKUP" >&2; exit 64; }
CONF=$2 MODE=$3
SLEEP=1 SOCK=/run/borg/test.sock BORG_SOCK=/run/borg/borg.sock BORG_REPO=
[[ -f $CONF/standin.env ]] && . "$CONF/standin.env"
OUT=/var/lib/borgpull/standin.out
RUNNER=borgpull-runner

case $MODE in
SETUP)
  install -d -o borgpull -g borgpull -m 0750 /run/borg
  install -d -o "$RUNNER" -g "$RUNNER" -m 0700 /var/lib/borgpull/runner
  echo "borgpull-client stand-in: SETUP done"
  exit 0 ;;
BACKUP) ;;
*) echo "unknown mode $MODE" >&2; exit 64 ;;
esac

: > "$OUT"
rec() { echo "$1=$2" >> "$OUT"; }
post() {
  rec post_hook ran
  echo "borgpull-client stand-in: post hook ran (${1:-normal})" >&2
}
on_term() {
  rec got_sigterm yes
  [[ -n ${child:-} ]] && kill -TERM "$child" 2>/dev/null
  post sigterm
  exit 143
}
trap on_term TERM

rec args "$*"
# A typical pre hook: stop a service as root through PID 1's Unix socket.
if [[ -n ${HOOK_STOP_UNIT:-} ]]; then
  systemctl stop "$HOOK_STOP_UNIT" >/dev/null 2>&1
  rec hook_stop_rc $?
fi
rec uid "$(id -u)"
rec capbnd "$(awk '/^CapBnd/{print $2}' /proc/self/status)"
rec nnp "$(awk '/^NoNewPrivs/{print $2}' /proc/self/status)"
rec seccomp "$(awk '/^Seccomp:/{print $2}' /proc/self/status)"
# /proc/self/net follows the reader's network namespace (/sys/class/net does not).
rec netdevs "$(awk -F: 'NR > 2 {gsub(/ /, "", $1); printf "%s ", $1}' /proc/self/net/dev)"
rec netns "$(readlink /proc/self/ns/net)"
rec etc_writable "$( (touch /etc/.bp-probe && rm -f /etc/.bp-probe && echo yes) 2>/dev/null || echo no)"
rec state_writable "$( (touch /var/lib/borgpull/.probe && rm -f /var/lib/borgpull/.probe && echo yes) 2>/dev/null || echo no)"
rec inet_socket "$(python3 -c 'import socket; socket.socket(socket.AF_INET)' >/dev/null 2>&1 && echo allowed || echo denied)"
# root inside the unit has no CAP_DAC_OVERRIDE: a 0660 socket of borgpull:borgpull
# must be refused to it (the runner connects by group instead).
rec root_connect "$(socat -u OPEN:/dev/null UNIX-CONNECT:"$SOCK" >/dev/null 2>&1 && echo ok || echo refused)"

DROP=(setpriv --reuid="$RUNNER" --regid="$RUNNER" --init-groups
      --inh-caps=-all,+dac_read_search --ambient-caps=-all,+dac_read_search
      --bounding-set=-all,+dac_read_search --no-new-privs --)
rec runner_id "$("${DROP[@]}" id -un 2>&1)"
rec runner_caps "$("${DROP[@]}" awk '/^CapAmb|^CapEff/{printf "%s ", $2}' /proc/self/status 2>&1)"
rec runner_reads_shadow "$("${DROP[@]}" head -c 5 /etc/shadow >/dev/null 2>&1 && echo yes || echo no)"
rec runner_socket "$("${DROP[@]}" socat -t 5 STDIO UNIX-CONNECT:"$SOCK" </dev/null 2>&1 | head -n 1)"

if [[ -n $BORG_REPO ]]; then
  # borg 1.2 under the full hardening (MemoryDenyWriteExecute, ProcSubset=pid,
  # SystemCallFilter, AF_UNIX only), as the runner, through the forwarded socket.
  export BORG_REPO BORG_BASE_DIR=/var/lib/borgpull/runner BORG_HOST_ID=standin@1
  export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
  export BORG_RSH="sh -c 'exec socat STDIO UNIX-CONNECT:$BORG_SOCK'"
  "${DROP[@]}" borg create --stats "::standin-{now}" /etc /root >>/var/lib/borgpull/borg.log 2>&1
  rec borg_create_rc $?
fi

rec sleeping "$SLEEP"
sleep "$SLEEP" & child=$!
wait "$child"
child=
post normal
rec done yes
exit 0
