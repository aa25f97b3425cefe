#!/bin/bash
# Boot, enter and stop a systemd container with systemd-nspawn, without a systemd
# on the host (no machined: --register=no; we enter with nsenter).
#
# Usage:
#   container.sh start DIR NAME [NSPAWN_OPTION...] boot DIR (e.g. from `rootfs.sh fresh`)
#                                                  in the background; return once
#                                                  `systemctl is-system-running` inside
#                                                  says running or degraded.
#                                                  Options go to systemd-nspawn as they
#                                                  are, e.g. --bind=/src:/dst --bind-ro=...
#   container.sh exec NAME CMD [ARG...]             run CMD inside (all namespaces of the
#                                                  container's PID 1, clean environment,
#                                                  stdin passed through); exit with its status
#   container.sh pid NAME                           print the container's PID 1 (host view)
#   container.sh log NAME                           print the console log so far
#   container.sh stop NAME                          clean poweroff; SIGKILL after the timeout;
#                                                  removes the state directory
#
# Environment:
#   BORGPULL_NSPAWN_STATE         state directory root (default /run/borgpull-nspawn)
#   BORGPULL_NSPAWN_BOOT_TIMEOUT  seconds to wait for boot (default 120)
#   BORGPULL_NSPAWN_STOP_TIMEOUT  seconds to wait for poweroff (default 30)
#
# State per container in $BORGPULL_NSPAWN_STATE/NAME: nspawn.pid, leader.pid, console.log.
set -euo pipefail

STATE_ROOT=${BORGPULL_NSPAWN_STATE:-/run/borgpull-nspawn}
BOOT_TIMEOUT=${BORGPULL_NSPAWN_BOOT_TIMEOUT:-120}
STOP_TIMEOUT=${BORGPULL_NSPAWN_STOP_TIMEOUT:-30}
INNER_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
           HOME=/root LANG=C.UTF-8 TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0)

die() { echo "container.sh: $*" >&2; exit 1; }
log() { echo "container.sh: $*" >&2; }

valid_name() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || die "bad container name: $1"
}

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# PID (host view) of the container's init: a descendant of nspawn whose innermost
# PID namespace id is 1.
find_leader() {
  local nspawn=$1 p ns
  for p in $(pgrep -P "$nspawn" 2>/dev/null) ; do
    ns=$(awk '/^NSpid:/{print $NF}' "/proc/$p/status" 2>/dev/null || true)
    if [[ $ns == 1 && $p != 1 ]]; then echo "$p"; return 0; fi
    # nspawn may interpose a helper; look one level deeper.
    for q in $(pgrep -P "$p" 2>/dev/null); do
      ns=$(awk '/^NSpid:/{print $NF}' "/proc/$q/status" 2>/dev/null || true)
      if [[ $ns == 1 ]]; then echo "$q"; return 0; fi
    done
  done
  return 1
}

leader_of() {
  local name=$1 dir pid
  dir="$STATE_ROOT/$name"
  [[ -f $dir/leader.pid ]] || die "container $name is not running (no $dir/leader.pid)"
  pid=$(<"$dir/leader.pid")
  alive "$pid" || die "container $name: PID 1 ($pid) is gone; see $dir/console.log"
  echo "$pid"
}

in_container() {
  local pid=$1; shift
  nsenter -t "$pid" -a "${INNER_ENV[@]}" "$@"
}

cmd_start() {
  [[ $# -ge 2 ]] || die "usage: container.sh start DIR NAME [NSPAWN_OPTION...]"
  local root=$1 name=$2; shift 2
  valid_name "$name"
  [[ -d $root/etc/systemd ]] || die "$root does not look like a rootfs with systemd"
  command -v systemd-nspawn >/dev/null || die "systemd-nspawn missing (apt-get install systemd-container)"
  local dir="$STATE_ROOT/$name"
  if [[ -f $dir/nspawn.pid ]] && alive "$(<"$dir/nspawn.pid")"; then
    die "container $name already running"
  fi
  rm -rf "$dir"
  mkdir -p -m 0700 "$dir"
  local t0=$SECONDS
  # setsid: the container must not die with the caller's session or terminal.
  # --system-call-filter: nspawn's own seccomp allow-list (systemd 252) answers EPERM to the
  # Landlock calls; the client's borg sandbox applies a Landlock ruleset, so allow them.
  setsid systemd-nspawn -D "$root" -b --register=no --console=read-only \
      --keep-unit --link-journal=no -M "$name" \
      --system-call-filter='landlock_create_ruleset landlock_add_rule landlock_restrict_self' "$@" \
      </dev/null >"$dir/console.log" 2>&1 &
  local nspawn=$!
  disown "$nspawn" 2>/dev/null || true
  echo "$nspawn" > "$dir/nspawn.pid"

  local leader="" state=""
  while (( SECONDS - t0 < BOOT_TIMEOUT )); do
    alive "$nspawn" || { tail -n 40 "$dir/console.log" >&2; rm -rf "$dir"; die "systemd-nspawn exited during boot"; }
    if [[ -z $leader ]]; then
      leader=$(find_leader "$nspawn" || true)
      [[ -n $leader ]] && echo "$leader" > "$dir/leader.pid"
    fi
    if [[ -n $leader ]]; then
      state=$(in_container "$leader" systemctl is-system-running 2>/dev/null || true)
      case $state in
        running|degraded|maintenance|stopping) break ;;
        # offline/unknown: the manager is not answering yet; starting: keep waiting.
      esac
    fi
    sleep 0.2
  done
  case $state in
    running) ;;
    degraded)
      log "container $name is degraded; failed units:"
      in_container "$leader" systemctl --failed --no-legend >&2 || true ;;
    *)
      tail -n 40 "$dir/console.log" >&2
      log "container $name did not boot (state '${state:-unknown}' after $((SECONDS - t0)) s); stopping"
      cmd_stop "$name" || true
      exit 1 ;;
  esac
  log "container $name up ($state) in $((SECONDS - t0)) s, PID 1 = $leader"
}

cmd_exec() {
  [[ $# -ge 2 ]] || die "usage: container.sh exec NAME CMD [ARG...]"
  local name=$1; shift
  valid_name "$name"
  local pid
  pid=$(leader_of "$name")
  exec nsenter -t "$pid" -a "${INNER_ENV[@]}" "$@"
}

cmd_stop() {
  [[ $# -eq 1 ]] || die "usage: container.sh stop NAME"
  local name=$1
  valid_name "$name"
  local dir="$STATE_ROOT/$name" nspawn="" leader=""
  [[ -d $dir ]] || { log "container $name: not running"; return 0; }
  [[ -f $dir/nspawn.pid ]] && nspawn=$(<"$dir/nspawn.pid")
  [[ -f $dir/leader.pid ]] && leader=$(<"$dir/leader.pid")
  if alive "$nspawn"; then
    # SIGRTMIN+4 asks systemd (PID 1) for a clean poweroff; nspawn exits after it.
    if alive "$leader"; then
      kill -s SIGRTMIN+4 "$leader" 2>/dev/null || true
    else
      kill -TERM "$nspawn" 2>/dev/null || true
    fi
    local t0=$SECONDS
    while alive "$nspawn" && (( SECONDS - t0 < STOP_TIMEOUT )); do sleep 0.2; done
    if alive "$nspawn"; then
      log "container $name: no clean shutdown after $STOP_TIMEOUT s; killing"
      # Killing PID 1 of a PID namespace kills every process in it.
      alive "$leader" && kill -KILL "$leader" 2>/dev/null || true
      kill -KILL "$nspawn" 2>/dev/null || true
      t0=$SECONDS
      while alive "$nspawn" && (( SECONDS - t0 < 10 )); do sleep 0.2; done
      alive "$nspawn" && die "container $name: systemd-nspawn ($nspawn) survived SIGKILL"
    fi
  fi
  # nspawn is a child of a setsid'd shell that has gone; nothing to reap here.
  rm -rf "$dir"
  log "container $name stopped"
}

[[ $(id -u) == 0 ]] || die "must run as root"
sub=${1:-}; shift || true
case $sub in
  start) cmd_start "$@" ;;
  exec) cmd_exec "$@" ;;
  pid) [[ $# -eq 1 ]] || die "usage: container.sh pid NAME"; valid_name "$1"; leader_of "$1" ;;
  log) [[ $# -eq 1 ]] || die "usage: container.sh log NAME"; valid_name "$1"; cat "$STATE_ROOT/$1/console.log" ;;
  stop) cmd_stop "$@" ;;
  *) die "usage: container.sh start DIR NAME [NSPAWN_OPTION...] | exec NAME CMD... | pid NAME | log NAME | stop NAME" ;;
esac
