#!/usr/bin/env bash
# make install / make uninstall — see README "Install with make install".
#   install.sh install   client|server|all   (as root)
#   install.sh uninstall client|server|all
# Binaries come from .build/release (make release), man pages from .build/man (make man),
# completions from .build/completions (make completions). The layout is the Debian packages'
# with PREFIX for /usr: the units, the sshd Match block and what borgpull-check expects name
# PREFIX/bin. Never overwrites an existing config, never removes a config, a repository or a
# user's files; uninstall leaves users in place.
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:?usage: install.sh install|uninstall client|server|all}
role=${2:-all}
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BIN="$DESTDIR$PREFIX/bin"
SHARE="$DESTDIR$PREFIX/share/borgpull"
# systemd loads units from /usr/local/lib/systemd/system and /usr/lib/systemd/system.
SYSTEMD="$DESTDIR$PREFIX/lib/systemd/system"
MAN="$DESTDIR$PREFIX/share/man"
COMPLETIONS="$DESTDIR$PREFIX/share"
SSH_USER=${SSH_USER:-borgpull}
RUNNER_USER=${RUNNER_USER:-borgpull-runner}
SERVER_USER=${SERVER_USER:-borg}

client=false server=false
case $role in client) client=true ;; server) server=true ;; all) client=true server=true ;;
  *) echo "install.sh: role must be client, server or all" >&2; exit 64 ;; esac

say() { echo "install: $*"; }

# The repository's units and sshd Match block name the packages' /usr/bin; this PREFIX's copy.
install_prefixed() { # mode source destination
  sed "s|/usr/bin/borgpull-|$PREFIX/bin/borgpull-|g" "$2" > "$3.tmp"
  chmod "$1" "$3.tmp"
  mv "$3.tmp" "$3"
}

ensure_user() { # name shell home [group-to-join] [ssh-login]
  if ! id -u "$1" >/dev/null 2>&1; then
    if [[ $2 == /usr/sbin/nologin ]]; then useradd -r -M -d "$3" -s "$2" "$1"
    elif [[ ${5:-} == ssh-login ]]; then
      # The ssh user's home is root's and empty (no /etc/skel): sshd runs the ForceCommand
      # through bash, which on Debian sources ~/.bashrc when started by sshd, and PAM reads
      # ~/.pam_environment; nothing there may be the account's to change (SECURITY.md).
      useradd -r -M -d "$3" -s "$2" "$1"
      install -d -o root -g root -m 0755 "$3"
    else useradd -r -m -d "$3" -s "$2" "$1"; fi
    say "created user $1"
    # A key-only login account: '*' (not '!'), or sshd refuses it with UsePAM no. Only for an
    # account made here: an existing account's password field is never changed (borgpull-check
    # says when a locked account would stop sshd).
    if [[ ${5:-} == ssh-login ]]; then usermod -p '*' "$1"; fi
  elif [[ ${5:-} == ssh-login ]]; then
    # An existing account's home and files are never changed; borgpull-check FAILs (user.home)
    # while the account can change its home or what is in it.
    local home; home=$(getent passwd "$1" | cut -d: -f6)
    if [[ -d $home ]] && { [[ $(stat -c %u "$home") != 0 || $(( 0$(stat -c %a "$home") & 022 )) != 0 ]] ||
         [[ -n $(find "$home" -mindepth 1 -maxdepth 2 \( -user "$1" -o -perm /022 \) -print -quit 2>/dev/null) ]]; }; then
      say "kept the home of the existing user $1 ($home), which the account can change: borgpull-check fails until" \
          "chown root:root $home && chmod 0755 $home, and its files are moved away or given to root"
    fi
  fi
  if [[ -n ${4:-} ]]; then usermod -a -G "$4" "$1"; fi
}

install_common() {
  install -d -m 0755 "$BIN" "$SHARE" "$SHARE/policy" "$SYSTEMD"
  for b in borgpull-client borgpull-server borgpull-check; do
    install -m 0755 -o root -g root ".build/release/$b" "$BIN/$b"
  done
  install -d -m 0755 "$DESTDIR$PREFIX/share/doc/borgpull" "$MAN/man5" "$MAN/man8" \
    "$COMPLETIONS/bash-completion/completions" "$COMPLETIONS/zsh/site-functions" "$COMPLETIONS/fish/vendor_completions.d"
  install -m 0644 README.md SECURITY.md units/README-units.md "$DESTDIR$PREFIX/share/doc/borgpull/"
  install -m 0644 .build/man/*.8 "$MAN/man8/"
  install -m 0644 .build/man/borgpull.conf.5 "$MAN/man5/"
  for b in borgpull-client borgpull-server borgpull-check; do
    install -m 0644 ".build/completions/bash/$b" "$COMPLETIONS/bash-completion/completions/$b"
    install -m 0644 ".build/completions/zsh/_$b" "$COMPLETIONS/zsh/site-functions/_$b"
    install -m 0644 ".build/completions/fish/$b.fish" "$COMPLETIONS/fish/vendor_completions.d/$b.fish"
  done
  # Earlier versions installed the units to /etc/systemd/system, where they would override
  # these: remove a copy that is still the old shipped one, keep (and name) an edited one.
  local u
  for u in units/*.service units/*.timer; do
    u=$(basename "$u")
    local old="$DESTDIR/etc/systemd/system/$u" shipped="$SHARE/units/$u"
    if [[ -f $old && -f $shipped ]]; then
      if cmp -s "$old" "$shipped"; then rm -f "$old"; else say "kept $old: it overrides $SYSTEMD/$u (diff them; keep local changes in a drop-in)"; fi
    fi
  done
  rm -rf "$SHARE/units"
}

install_client() {
  ensure_user "$SSH_USER" /bin/bash "/var/lib/$SSH_USER-home" "" ssh-login
  ensure_user "$RUNNER_USER" /usr/sbin/nologin /nonexistent "$(id -gn "$SSH_USER")"
  local ssh_group; ssh_group=$(id -gn "$SSH_USER")
  install -d -m 0755 "$SHARE/policy/seccomp"
  if compgen -G "policy/seccomp/*.policy" >/dev/null; then install -m 0644 policy/seccomp/*.policy "$SHARE/policy/seccomp/"; fi
  install -d -m 0755 "$SHARE/policy/sudoers"
  install -m 0644 policy/sudoers/borgpull "$SHARE/policy/sudoers/borgpull"
  for u in borg-backup-create-directory.service run-borg-backup.service; do install_prefixed 0644 "units/$u" "$SYSTEMD/$u"; done
  # polkit: Debian 12 ships /etc/polkit-1/rules.d as polkitd:root 0700; keep its owner.
  if [[ -d $DESTDIR/etc/polkit-1 ]]; then
    [[ -d $DESTDIR/etc/polkit-1/rules.d ]] || install -d -m 0700 "$DESTDIR/etc/polkit-1/rules.d"
    install -m 0644 -o root -g root policy/polkit/50-borgpull.rules "$DESTDIR/etc/polkit-1/rules.d/50-borgpull.rules"
  else
    say "polkit is not installed: the ForceCommand's --via systemd needs it (apt-get install polkitd), or use policy/sudoers/ and --via sudo"
  fi
  # The sshd Match block is configuration too (an admin may change the ForceCommand's --via):
  # installed when missing, else kept; the shipped one stays in $SHARE/policy/sshd/ to compare.
  install -d -m 0755 "$SHARE/policy/sshd" "$DESTDIR/etc/ssh/sshd_config.d"
  install_prefixed 0644 policy/sshd/borgpull.conf "$SHARE/policy/sshd/borgpull.conf"
  if [[ $SSH_USER != borgpull ]]; then
    sed -i -e "s|^Match User borgpull\$|Match User $SSH_USER|" \
           -e "s|/etc/ssh/authorized_keys/borgpull/|/etc/ssh/authorized_keys/$SSH_USER/|" \
           "$SHARE/policy/sshd/borgpull.conf"
  fi
  local match="$DESTDIR/etc/ssh/sshd_config.d/borgpull.conf"
  if [[ ! -e $match ]]; then
    install -m 0644 -o root -g root "$SHARE/policy/sshd/borgpull.conf" "$match"
  elif ! cmp -s "$SHARE/policy/sshd/borgpull.conf" "$match"; then
    say "kept existing $match (differs from the shipped $SHARE/policy/sshd/borgpull.conf: diff them)"
  fi
  # The server's key lives outside the account's home, root-owned: the account cannot change
  # it, sshd (reading as the user) can. Never overwritten.
  install -d -m 0755 -o root -g root "$DESTDIR/etc/ssh/authorized_keys"
  install -d -m 0750 -o root -g "$ssh_group" "$DESTDIR/etc/ssh/authorized_keys/$SSH_USER"
  local keys="$DESTDIR/etc/ssh/authorized_keys/$SSH_USER/backup_server_keys"
  if [[ -e $keys ]]; then say "kept existing $keys"; else
    install -m 0640 -o root -g "$ssh_group" /dev/null "$keys"
    say "installed $keys (empty: put the server's public key there)"
  fi
  # The config skeleton: only what is missing, never over an existing file.
  local conf="$DESTDIR/etc/borgpull"
  if [[ -d $conf ]]; then say "kept existing $conf"; else install -d -m 0700 -o root -g root "$conf"; fi
  for f in configs/client/*; do
    local name; name=$(basename "$f")
    if [[ -e $conf/$name ]]; then say "kept existing $conf/$name"; continue; fi
    case $name in borg_hook_*) mode=0700 ;; *) mode=0600 ;; esac
    install -m "$mode" -o root -g root "$f" "$conf/$name"
    say "installed $conf/$name (edit it)"
  done
  if [[ -z $DESTDIR ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    # SETUP now and at every boot (it is idempotent); the backup unit is never enabled.
    systemctl enable borg-backup-create-directory.service
    # SETUP refuses a configuration whose audit fails (an unedited skeleton): it creates the
    # socket directory only once /etc/borgpull is filled in.
    systemctl restart borg-backup-create-directory.service ||
      say "SETUP (borg-backup-create-directory.service) refused: the configuration is not complete yet (borgpull-check lists what to fix; journalctl -u borg-backup-create-directory.service). After editing /etc/borgpull: systemctl restart borg-backup-create-directory.service"
    # sshd: check the Match block and make a running sshd read it.
    if command -v sshd >/dev/null; then
      mkdir -p -m 0755 /run/sshd
      if ! sshd -t; then
        say "sshd -t fails with $DESTDIR/etc/ssh/sshd_config.d/borgpull.conf: fix it before the next sshd restart"
      elif systemctl -q is-active ssh.service; then
        systemctl reload ssh.service && say "reloaded ssh.service"
      fi
    fi
  fi
}

install_server() {
  ensure_user "$SERVER_USER" /bin/bash "/var/lib/borg_remote_pull"
  local group home; group=$(id -gn "$SERVER_USER"); home=$(getent passwd "$SERVER_USER" | cut -d: -f6)
  for u in borgpull-server@.service borgpull-server@.timer borgpull-compact@.service borgpull-compact@.timer \
           borgpull-check@.service borgpull-check@.timer borgpull-notify@.service; do
    install_prefixed 0644 "units/$u" "$SYSTEMD/$u"
  done
  install -d -m 0750 -o root -g "$group" "$DESTDIR/etc/borgpull-server"
  # The example is ours (replaced on every install); NAME.conf files are never touched.
  install -m 0640 -o root -g "$group" configs/server/borgpull.conf.example \
    "$DESTDIR/etc/borgpull-server/borgpull.conf.example"
  if [[ -z $DESTDIR ]]; then
    [[ -d /srv/borg ]] || { install -d -m 0700 -o "$SERVER_USER" -g "$group" /srv/borg; say "created /srv/borg for repositories"; }
    install -d -m 0700 -o "$SERVER_USER" -g "$group" "$home" "$home/.ssh"
    if [[ ! -e $home/.ssh/id_ed25519 ]]; then
      setpriv --reuid="$SERVER_USER" --regid="$group" --init-groups -- \
        ssh-keygen -q -t ed25519 -N '' -C "borgpull-server@$(hostname)" -f "$home/.ssh/id_ed25519"
      say "created $home/.ssh/id_ed25519"
    fi
    say "the server's public key (for the client's /etc/ssh/authorized_keys/borgpull/backup_server_keys):"
    cat "$home/.ssh/id_ed25519.pub"
  fi
  if [[ -z $DESTDIR ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then systemctl daemon-reload; fi
}

uninstall() {
  rm -f "$BIN/borgpull-client" "$BIN/borgpull-server" "$BIN/borgpull-check"
  rm -rf "$SHARE" "$DESTDIR$PREFIX/share/doc/borgpull"
  rm -f "$MAN"/man8/borgpull-{client,server,check}.8 "$MAN/man5/borgpull.conf.5"
  for b in borgpull-client borgpull-server borgpull-check; do
    rm -f "$COMPLETIONS/bash-completion/completions/$b" "$COMPLETIONS/zsh/site-functions/_$b" "$COMPLETIONS/fish/vendor_completions.d/$b.fish"
  done
  local live=false
  [[ -z $DESTDIR ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]] && live=true
  if $client; then
    $live && systemctl disable --now borg-backup-create-directory.service 2>/dev/null || true
    rm -f "$SYSTEMD/borg-backup-create-directory.service" "$SYSTEMD/run-borg-backup.service" \
          "$DESTDIR/etc/polkit-1/rules.d/50-borgpull.rules" "$DESTDIR/etc/ssh/sshd_config.d/borgpull.conf"
    # Without the Match block the server's key (outside the account's home) is no longer read.
    if $live && systemctl -q is-active ssh.service && sshd -t; then systemctl reload ssh.service; fi
  fi
  if $server; then
    for u in server compact check notify; do rm -f "$SYSTEMD/borgpull-$u@.service" "$SYSTEMD/borgpull-$u@.timer"; done
  fi
  if $live; then systemctl daemon-reload; fi
  say "kept /etc/borgpull, /etc/borgpull-server, repositories, state and users (remove them by hand if you mean it)"
}

[[ $(id -u) == 0 ]] || { echo "install.sh: run as root" >&2; exit 77; }
case $action in
  install)
    [[ -x .build/release/borgpull-client ]] || { echo "install.sh: .build/release/borgpull-client is missing (fix: run 'make release' first)" >&2; exit 1; }
    [[ -f .build/man/borgpull-client.8 && -f .build/completions/bash/borgpull-client ]] ||
      { echo "install.sh: .build/man or .build/completions is missing (fix: run 'make man completions' first)" >&2; exit 1; }
    install_common
    $client && install_client
    $server && install_server
    say "done; now run: borgpull-check" ;;
  uninstall) uninstall ;;
  *) echo "usage: install.sh install|uninstall client|server|all" >&2; exit 64 ;;
esac
