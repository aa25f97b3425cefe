#!/bin/bash
# The setuid-free trigger under a real systemd (systemd-nspawn container).
#
# Installs units/*.service, policy/polkit/50-borgpull.rules and a stand-in
# /usr/bin/borgpull-client (Tests/nspawn/borgpull-client-standin.sh: the
# checks read what it records) into a fresh copy of the cached rootfs, boots it,
# and checks:
#   - user borgpull (real shell, password '*', no sudo in the container) can
#     `systemctl start run-borg-backup.service`, and nothing else: not stop,
#     restart, kill, other units, transient units, daemon-reload, unit files;
#     another user cannot start it; without the rule borgpull cannot either;
#   - under the hardened unit a path-based Unix socket in /run/borg created
#     outside the unit is reachable (PrivateNetwork, AF_UNIX only), the privilege
#     drop to borgpull-runner with ambient CAP_DAC_READ_SEARCH works, and borg 1.2
#     creates an archive through such a socket;
#   - the unit's journal shows the helper's stdout and stderr;
#   - SIGTERM (systemctl stop by root) reaches the helper, whose post step runs;
#   - Requisite=: no run while borg-backup-create-directory.service is inactive.
# Exits non-zero when any check fails. Needs root, systemd-nspawn, debootstrap
# (first run, ~80 s; later runs reuse the cache).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CHECKS_NAME=trigger-test
source "$REPO/Tests/lib/checks.sh"
C="$HERE/container.sh"
NAME=bp-trigger-$$
WORK=$(mktemp -d /var/tmp/borgpull-trigger.XXXXXX)
CLIENT_BIN=$HERE/borgpull-client-standin.sh

cleanup() {
  local rc=$?
  if [[ ${KEEP:-0} == 1 ]]; then
    echo "KEEP=1: container $NAME and $WORK left in place" >&2
    exit $rc
  fi
  "$C" stop "$NAME" >/dev/null 2>&1 || true
  "$HERE/rootfs.sh" discard "$WORK/rootfs" || true
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

# inside CMD...: run inside the container as root, bounded in time.
inside() { timeout 120 "$C" exec "$NAME" "$@" </dev/null; }
# as USER CMD...: run inside as USER without PAM or sudo, as sshd's ForceCommand would.
as() {
  local user=$1; shift
  inside setpriv --reuid="$user" --regid="$user" --init-groups --reset-env -- "$@"
}
expect_ok() {  # expect_ok DESC CMD...
  local desc=$1 out; shift
  if out=$("$@" 2>&1); then ok "$desc"; else bad "$desc" "rc=$? $out"; fi
}
expect_denied() {  # expect_denied DESC CMD...: must fail with a polkit/bus denial
  local desc=$1 out rc=0; shift
  out=$("$@" 2>&1) || rc=$?
  if (( rc != 0 )) && grep -qiE 'access denied|authentication required|not authorized|permission denied' <<<"$out"; then
    ok "$desc"
  else
    bad "$desc" "rc=$rc $out"
  fi
}
result() { inside sh -c "grep -m1 '^$1=' /var/lib/borgpull/standin.out | cut -d= -f2-" 2>/dev/null || true; }
set_standin() { inside sh -c "printf '%s\n' $* > /etc/borgpull/standin.env"; }

# --- Prepare the rootfs (before boot: the SETUP unit runs at boot).
T0=$SECONDS
ROOT=$("$HERE/rootfs.sh" fresh "$WORK/rootfs")
echo "# rootfs ready in $((SECONDS - T0)) s: $ROOT"
install -m 0755 "$CLIENT_BIN" "$ROOT/usr/bin/borgpull-client"
install -m 0644 "$REPO"/units/*.service "$ROOT/etc/systemd/system/"
ln -sf ../borg-backup-create-directory.service \
  "$ROOT/etc/systemd/system/multi-user.target.wants/borg-backup-create-directory.service"
install -m 0644 "$REPO/policy/polkit/50-borgpull.rules" "$ROOT/etc/polkit-1/rules.d/50-borgpull.rules"
chroot "$ROOT" sh -euc '
  useradd -m -s /bin/bash borgpull && usermod -p "*" borgpull
  useradd -r -M -d /nonexistent -s /usr/sbin/nologin -G borgpull borgpull-runner
  useradd -m -s /bin/bash mallory && usermod -p "*" mallory
  install -d -m 0700 /etc/borgpull
  install -d -o borgpull -g borgpull -m 0700 /srv/bp-repo
'

# --- Boot.
T0=$SECONDS
"$C" start "$ROOT" "$NAME"
echo "# booted in $((SECONDS - T0)) s"

expect_eq "no sudo in the container" "absent" "$(inside sh -c 'command -v sudo >/dev/null && echo present || echo absent')"
expect_eq "SETUP unit active after boot" active "$(inside systemctl is-active borg-backup-create-directory.service || true)"
expect_eq "/run/borg owned by the ssh user" "borgpull:borgpull 750" "$(inside stat -c '%U:%G %a' /run/borg || true)"

# --- The forwarded sockets, created outside the backup unit (as sshd would).
inside systemd-run --quiet --unit=bp-fake-forward-test -p User=borgpull -p Group=borgpull \
  socat UNIX-LISTEN:/run/borg/test.sock,fork,mode=0660,unlink-early SYSTEM:'echo pong-from-outside'
inside systemd-run --quiet --unit=bp-fake-forward-borg -p User=borgpull -p Group=borgpull \
  -E BORG_BASE_DIR=/home/borgpull \
  socat UNIX-LISTEN:/run/borg/borg.sock,fork,mode=0660,unlink-early \
  EXEC:'borg serve --append-only --restrict-to-repository /srv/bp-repo'
wait_for 10 inside test -S /run/borg/test.sock && wait_for 10 inside test -S /run/borg/borg.sock \
  || bad "socket servers started" "$(inside systemctl status bp-fake-forward-test bp-fake-forward-borg 2>&1)"
expect_ok "borg init of the test repository (outside the unit)" \
  as borgpull env BORG_BASE_DIR=/home/borgpull borg init -e none /srv/bp-repo

# --- The trigger: borgpull starts the unit, no sudo, no setuid.
inside systemd-run --quiet --unit=bp-hook-target sleep infinity
set_standin SLEEP=1 BORG_REPO=ssh://borgpull@standin/srv/bp-repo HOOK_STOP_UNIT=bp-hook-target.service
expect_ok "borgpull: systemctl start run-borg-backup.service (polkit, no sudo)" \
  as borgpull systemctl --no-ask-password start run-borg-backup.service
expect_eq "helper got its arguments" "-c /etc/borgpull BACKUP" "$(result args)"
expect_eq "helper ran as root" 0 "$(result uid)"
expect_eq "NoNewPrivileges set" 1 "$(result nnp)"
expect_eq "root hook inside the unit can systemctl stop a service" 0 "$(result hook_stop_rc)"
expect_eq "... and it is stopped" inactive "$(inside systemctl is-active bp-hook-target.service || true)"
expect_eq "seccomp filter active (mode 2)" 2 "$(result seccomp)"
expect_eq "PrivateNetwork: only lo" "lo " "$(result netdevs)"
NETNS_PID1=$(inside readlink /proc/1/ns/net)
if [[ -n $(result netns) && $(result netns) != "$NETNS_PID1" ]]; then ok "PrivateNetwork: own network namespace"
else bad "PrivateNetwork: own network namespace" "unit $(result netns), PID 1 $NETNS_PID1"; fi
expect_eq "ProtectSystem=strict: /etc read-only" no "$(result etc_writable)"
expect_eq "StateDirectory writable" yes "$(result state_writable)"
expect_eq "AF_INET refused" denied "$(result inet_socket)"
expect_eq "root in the unit cannot connect a 0660 borgpull socket (no CAP_DAC_OVERRIDE)" refused "$(result root_connect)"
expect_eq "drop to borgpull-runner inside the unit" borgpull-runner "$(result runner_id)"
expect_eq "runner keeps only CAP_DAC_READ_SEARCH (eff, amb)" "0000000000000004 0000000000000004 " "$(result runner_caps)"
expect_eq "runner reads /etc/shadow via the ambient capability" yes "$(result runner_reads_shadow)"
expect_eq "path socket in /run/borg reachable despite PrivateNetwork" pong-from-outside "$(result runner_socket)"
expect_eq "borg create through the socket under full hardening (MDWE, ProcSubset, filters)" 0 "$(result borg_create_rc)"
expect_ok "archive is in the repository" \
  sh -c "'$C' exec '$NAME' setpriv --reuid=borgpull --regid=borgpull --init-groups --reset-env -- env BORG_BASE_DIR=/home/borgpull borg list /srv/bp-repo </dev/null | grep -q '^standin-'"
expect_eq "post step ran" ran "$(result post_hook)"
if wait_for 10 sh -c "'$C' exec '$NAME' journalctl --no-pager -o cat -u run-borg-backup.service </dev/null | grep -q stderr-marker"; then
  ok "journal of the unit shows the helper's stderr"
else
  bad "journal of the unit shows the helper's stderr" "$(inside journalctl --no-pager -o cat -u run-borg-backup.service 2>&1 | tail -n 20)"
fi
expect_ok "journal of the unit shows the helper's stdout" \
  sh -c "'$C' exec '$NAME' journalctl --no-pager -o cat -u run-borg-backup.service </dev/null | grep -q 'args: -c /etc/borgpull BACKUP'"

# --- Nothing else for borgpull, nothing for others. Keep the unit running meanwhile.
set_standin SLEEP=60
expect_ok "borgpull: start --no-block" as borgpull systemctl --no-ask-password --no-block start run-borg-backup.service
wait_for 20 sh -c "[ \"\$('$C' exec '$NAME' systemctl is-active run-borg-backup.service </dev/null)\" = activating ]" \
  || bad "unit is running" "$(inside systemctl status run-borg-backup.service 2>&1)"
expect_denied "borgpull: stop run-borg-backup.service denied" as borgpull systemctl --no-ask-password stop run-borg-backup.service
expect_denied "borgpull: restart run-borg-backup.service denied" as borgpull systemctl --no-ask-password restart run-borg-backup.service
expect_denied "borgpull: kill run-borg-backup.service denied" as borgpull systemctl --no-ask-password kill run-borg-backup.service
expect_denied "borgpull: reset-failed run-borg-backup.service denied" as borgpull systemctl --no-ask-password reset-failed run-borg-backup.service
expect_denied "borgpull: set-property run-borg-backup.service denied" as borgpull systemctl --no-ask-password set-property --runtime run-borg-backup.service CPUWeight=50
expect_eq "unit still running after the denied stop" activating "$(inside systemctl is-active run-borg-backup.service || true)"
expect_denied "borgpull: start ssh.service denied" as borgpull systemctl --no-ask-password start ssh.service
expect_denied "borgpull: restart borg-backup-create-directory.service denied" as borgpull systemctl --no-ask-password restart borg-backup-create-directory.service
expect_denied "borgpull: stop bp-fake-forward-test.service denied" as borgpull systemctl --no-ask-password stop bp-fake-forward-test.service
expect_denied "borgpull: systemd-run (transient unit) denied" as borgpull systemd-run --no-ask-password --wait true
expect_denied "borgpull: daemon-reload denied" as borgpull systemctl --no-ask-password daemon-reload
expect_denied "borgpull: mask (unit files) denied" as borgpull systemctl --no-ask-password mask ssh.service
expect_denied "borgpull: set-environment denied" as borgpull systemctl --no-ask-password set-environment X=1
expect_denied "mallory: start run-borg-backup.service denied" as mallory systemctl --no-ask-password start run-borg-backup.service
expect_eq "ssh.service was not started" inactive "$(inside systemctl is-active ssh.service || true)"

# --- SIGTERM reaches the helper first (KillMode=mixed); its post step runs.
inside systemctl stop run-borg-backup.service || true
expect_eq "helper got SIGTERM on stop" yes "$(result got_sigterm)"
expect_eq "post step ran after SIGTERM" ran "$(result post_hook)"
inside systemctl reset-failed run-borg-backup.service 2>/dev/null || true

# --- Requisite=: no run without SETUP.
inside systemctl stop borg-backup-create-directory.service
inside rm -f /var/lib/borgpull/standin.out
set_standin SLEEP=0
if as borgpull systemctl --no-ask-password start run-borg-backup.service >/dev/null 2>&1; then
  bad "start refused while SETUP unit inactive (Requisite=)"
else
  ok "start refused while SETUP unit inactive (Requisite=)"
fi
expect_eq "helper did not run" "" "$(result args)"
inside systemctl start borg-backup-create-directory.service

# --- The rule is what grants it.
inside mv /etc/polkit-1/rules.d/50-borgpull.rules /root/
sleep 2   # polkitd reloads rules on inotify
expect_denied "without the polkit rule borgpull is denied" as borgpull systemctl --no-ask-password start run-borg-backup.service
inside mv /root/50-borgpull.rules /etc/polkit-1/rules.d/
if wait_for 10 as borgpull systemctl --no-ask-password start run-borg-backup.service; then
  ok "rule restored: borgpull allowed again"
else
  bad "rule restored: borgpull allowed again"
fi

summary
