#!/usr/bin/env bash
# make install / make uninstall — see README "Install".
#   install.sh install   client|server|all   (as root)
#   install.sh uninstall client|server|all
# Binaries come from .build/release (make release). Never overwrites an existing config,
# never removes a config, a repository or a user's files; uninstall leaves users in place.
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:?usage: install.sh install|uninstall client|server|all}
role=${2:-all}
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BIN="$DESTDIR$PREFIX/bin"
SHARE="$DESTDIR$PREFIX/share/borgpull"
SYSTEMD="$DESTDIR/etc/systemd/system"
SSH_USER=${SSH_USER:-borgpull}
RUNNER_USER=${RUNNER_USER:-borgpull-runner}
SERVER_USER=${SERVER_USER:-borg}

client=false server=false
case $role in client) client=true ;; server) server=true ;; all) client=true server=true ;;
  *) echo "install.sh: role must be client, server or all" >&2; exit 64 ;; esac

say() { echo "install: $*"; }

ensure_user() { # name shell home [group-to-join]
  if ! id -u "$1" >/dev/null 2>&1; then
    if [[ $2 == /usr/sbin/nologin ]]; then useradd -r -M -d "$3" -s "$2" "$1"; else useradd -r -m -d "$3" -s "$2" "$1"; fi
    say "created user $1"
  fi
  # A key-only account: '*' (not '!'), or sshd refuses it with UsePAM no.
  [[ $2 != /usr/sbin/nologin ]] && usermod -p '*' "$1"
  if [[ -n ${4:-} ]]; then usermod -a -G "$4" "$1"; fi
}

install_common() {
  install -d -m 0755 "$BIN" "$SHARE" "$SHARE/policy" "$SYSTEMD"
  for b in borgpull-client borgpull-server borgpull-check; do
    install -m 0755 -o root -g root ".build/release/$b" "$BIN/$b"
  done
  install -d -m 0755 "$SHARE/units"
  install -m 0644 units/*.service units/*.timer "$SHARE/units/"
}

install_client() {
  ensure_user "$SSH_USER" /bin/bash "/var/lib/$SSH_USER-home"
  ensure_user "$RUNNER_USER" /usr/sbin/nologin /nonexistent "$(id -gn "$SSH_USER")"
  install -d -m 0755 "$SHARE/policy/seccomp"
  if compgen -G "policy/seccomp/*.policy" >/dev/null; then install -m 0644 policy/seccomp/*.policy "$SHARE/policy/seccomp/"; fi
  install -m 0644 units/borg-backup-create-directory.service units/run-borg-backup.service "$SYSTEMD/"
  if [[ -d $DESTDIR/etc/polkit-1/rules.d || -d /etc/polkit-1 ]]; then
    install -d -m 0700 "$DESTDIR/etc/polkit-1/rules.d" 2>/dev/null || true
    install -m 0644 policy/polkit/50-borgpull.rules "$DESTDIR/etc/polkit-1/rules.d/50-borgpull.rules"
  fi
  if [[ -f policy/sshd/borgpull.conf ]]; then
    install -d -m 0755 "$DESTDIR/etc/ssh/sshd_config.d"
    install -m 0644 policy/sshd/borgpull.conf "$DESTDIR/etc/ssh/sshd_config.d/borgpull.conf"
  fi
  install -d -m 0755 "$DESTDIR/etc/ssh/authorized_keys"
  install -d -m 0755 "$DESTDIR/etc/ssh/authorized_keys/$SSH_USER"
  [[ -e $DESTDIR/etc/ssh/authorized_keys/$SSH_USER/backup_server_keys ]] ||
    install -m 0644 /dev/null "$DESTDIR/etc/ssh/authorized_keys/$SSH_USER/backup_server_keys"
  # The config skeleton: only what is missing, never over an existing file.
  local conf="$DESTDIR/etc/borgpull"
  install -d -m 0700 -o root -g root "$conf"
  for f in configs/client/*; do
    local name; name=$(basename "$f")
    if [[ -e $conf/$name ]]; then say "kept existing $conf/$name"; continue; fi
    case $name in borg_hook_*) mode=0700 ;; *) mode=0600 ;; esac
    install -m "$mode" -o root -g root "$f" "$conf/$name"
    say "installed $conf/$name (edit it)"
  done
  if [[ -z $DESTDIR ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    systemctl enable borg-backup-create-directory.service
  fi
}

install_server() {
  ensure_user "$SERVER_USER" /bin/bash "/var/lib/borg_remote_pull"
  install -m 0644 units/borgpull-server@.service units/borgpull-server@.timer "$SYSTEMD/"
  install -d -m 0750 -o root -g "$(id -gn "$SERVER_USER")" "$DESTDIR/etc/borgpull-server"
  local sample="$DESTDIR/etc/borgpull-server/borgpull.conf.example"
  install -m 0640 -o root -g "$(id -gn "$SERVER_USER")" configs/server/borgpull.conf.example "$sample"
  if [[ -z $DESTDIR ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then systemctl daemon-reload; fi
}

uninstall() {
  rm -f "$BIN/borgpull-client" "$BIN/borgpull-server" "$BIN/borgpull-check"
  rm -rf "$SHARE"
  if $client; then
    rm -f "$SYSTEMD/borg-backup-create-directory.service" "$SYSTEMD/run-borg-backup.service" \
          "$DESTDIR/etc/polkit-1/rules.d/50-borgpull.rules" "$DESTDIR/etc/ssh/sshd_config.d/borgpull.conf"
  fi
  if $server; then rm -f "$SYSTEMD/borgpull-server@.service" "$SYSTEMD/borgpull-server@.timer"; fi
  say "kept /etc/borgpull, /etc/borgpull-server, repositories, state and users (remove them by hand if you mean it)"
}

[[ $(id -u) == 0 ]] || { echo "install.sh: run as root" >&2; exit 77; }
case $action in
  install)
    [[ -x .build/release/borgpull-client ]] || { echo "install.sh: run 'make release' first" >&2; exit 1; }
    install_common
    $client && install_client
    $server && install_server
    say "done; now run: borgpull-check" ;;
  uninstall) uninstall ;;
  *) echo "usage: install.sh install|uninstall client|server|all" >&2; exit 64 ;;
esac
