#!/bin/bash
# borgpull quick start: a backup server and a backup client on THIS machine, as root.
#
#   make demo            (or: sudo scripts/demo.sh)
#
# Installs the packages, builds, creates the accounts (borg = server, borgpull = ssh user on the
# client, borgpull-runner = the unprivileged borg runner), keys, an sshd on 127.0.0.1 with our
# Match block (policy/sshd/borgpull.conf), configs under $DEMO_DIR, initialises the repository
# through SERVE, runs `borgpull-server BACKUP`, lists the archives and checks a restore.
# Running it again keeps the repository and adds an archive.
#
# Environment: DEMO_DIR (default /var/lib/borgpull-demo), DEMO_PORT (default: a free port).
# It leaves: $DEMO_DIR (configs, repository), /etc/sudoers.d/borgpull-demo, the accounts
# borg/borgpull/borgpull-runner. To remove the demo:
#   rm -rf /var/lib/borgpull-demo /etc/sudoers.d/borgpull-demo /run/borgpull-demo /run/borg-demo \
#       "$(getent passwd borg | cut -d: -f6)/demo-restore"
# (README "Quick start" also removes the repository's security entry in borg's home.)
set -euo pipefail

die() { echo "demo: $*" >&2; exit 1; }
step() { printf '\n=== %s\n' "$*"; }

[ "$(id -u)" = 0 ] || die "run as root (it creates users, an sshd and a sudoers drop-in)"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO=${DEMO_DIR:-/var/lib/borgpull-demo}
case "$DEMO" in /*) ;; *) die "DEMO_DIR must be absolute";; esac
SRV=borg                 # server LOCAL_USER
SSHU=borgpull            # client ssh user (REMOTE_USER / BORG_BACKUP_USER)
RUNNER=borgpull-runner   # client borg runner, member of the ssh user's group
SRV_HOME=/var/lib/borg-demo-server
REPO=$DEMO/repo   # the demo's own repository, owned by $SRV
PASS="demo passphrase $(hostname)"
export PATH="/opt/swift/usr/bin:$PATH"

step "packages"
need=()
for p in borgbackup socat openssh-server openssh-client sudo util-linux python3 libseccomp-dev libcap-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
borg --version; socat -V | sed -n 2p; ssh -V

step "build"
(cd "$ROOT" && swift build 2>&1 | tail -1)
BIN_SRC=$(cd "$ROOT" && swift build --show-bin-path)

step "accounts"
id -u "$SRV" >/dev/null 2>&1 || useradd --system --create-home --home-dir "$SRV_HOME" --shell /usr/sbin/nologin "$SRV"
SRV_HOME=$(getent passwd "$SRV" | cut -d: -f6)
# The ssh user's home is root's and empty (SECURITY.md, "The ssh user's reach"): a new account only.
id -u "$SSHU" >/dev/null 2>&1 || { useradd --system --no-create-home --home-dir /var/lib/borgpull-home --shell /bin/bash "$SSHU" &&
    install -d -o root -g root -m 0755 /var/lib/borgpull-home; }
usermod -p "*" -s /bin/bash "$SSHU"   # useradd leaves it locked; with UsePAM no sshd refuses a locked account
id -u "$RUNNER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$RUNNER"
usermod -a -G "$SSHU" "$RUNNER"
install -d -m 0700 -o "$SRV" -g "$SRV" "$SRV_HOME"
# The demo's server key and known_hosts live under $DEMO, not in the account's home: an
# existing account's ~/.ssh is never touched.
SRV_SSH="$DEMO/server-ssh"

step "files under $DEMO"
install -d -m 0755 "$DEMO" "$DEMO/bin" "$DEMO/data" "$DEMO/sshd"
install -d -m 0700 "$DEMO/client"
install -d -m 0700 -o "$SRV" -g "$SRV" "$SRV_SSH"
install -d -m 0700 -o "$SRV" -g "$SRV" "$REPO"
install -m 0755 "$BIN_SRC/borgpull-client" "$BIN_SRC/borgpull-server" "$DEMO/bin/"
[ -f "$DEMO/data/hello.txt" ] || {
    echo "hello from the client" > "$DEMO/data/hello.txt"
    head -c 5000000 /dev/urandom > "$DEMO/data/random.bin"
    seq 1 100000 > "$DEMO/data/numbers.txt"
}
date > "$DEMO/data/last-demo-run.txt"

step "ssh keys and sshd on 127.0.0.1"
[ -f "$DEMO/sshd/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$DEMO/sshd/host_key"
[ -f "$SRV_SSH/id_ed25519" ] || setpriv --reuid="$SRV" --regid="$SRV" --init-groups -- \
    ssh-keygen -q -t ed25519 -N '' -C "borgpull-demo-server" -f "$SRV_SSH/id_ed25519"
if [ -f "$DEMO/sshd/sshd.pid" ]; then kill "$(cat "$DEMO/sshd/sshd.pid")" 2>/dev/null || true; sleep 0.5; fi
PORT=${DEMO_PORT:-$(python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])")}
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$DEMO/sshd/host_key.pub")" > "$SRV_SSH/known_hosts"
chown "$SRV:$SRV" "$SRV_SSH/known_hosts"
install -d -m 0750 -o root -g "$SSHU" "$DEMO/sshd/authorized_keys"
install -m 0640 -o root -g "$SSHU" "$SRV_SSH/id_ed25519.pub" "$DEMO/sshd/authorized_keys/backup_server_keys"
cat > /etc/sudoers.d/borgpull-demo <<EOF
# borgpull demo: the ssh user may start exactly this BACKUP as root (the trigger's --via sudo-client)
$SSHU ALL=(root) NOPASSWD: $DEMO/bin/borgpull-client -c $DEMO/client BACKUP
EOF
chmod 0440 /etc/sudoers.d/borgpull-demo
visudo -cf /etc/sudoers.d/borgpull-demo >/dev/null
{
    printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nUsePAM no\nAllowTcpForwarding no\n' \
        "$PORT" "$DEMO/sshd/host_key" "$DEMO/sshd/sshd.pid"
    sed -e "s|^Match User borgpull|Match User $SSHU|" \
        -e "s|^\( *\)AuthorizedKeysFile .*|\1AuthorizedKeysFile $DEMO/sshd/authorized_keys/backup_server_keys|" \
        -e "s|^\( *\)ForceCommand .*|\1ForceCommand $DEMO/bin/borgpull-client trigger --via sudo-client --client $DEMO/bin/borgpull-client --configs $DEMO/client --result $DEMO/state/last-backup.json|" \
        "$ROOT/policy/sshd/borgpull.conf"
} > "$DEMO/sshd/sshd_config"
mkdir -p -m 0755 /run/sshd
/usr/sbin/sshd -t -f "$DEMO/sshd/sshd_config"
/usr/sbin/sshd -f "$DEMO/sshd/sshd_config" -E "$DEMO/sshd/sshd.log"
# The demo's sshd (its ForceCommand may sudo a BACKUP) never outlives the demo, on any path.
trap 'kill "$(cat "$DEMO/sshd/sshd.pid" 2>/dev/null)" 2>/dev/null || true' EXIT
echo "sshd on 127.0.0.1:$PORT (log $DEMO/sshd/sshd.log)"

step "client config ($DEMO/client) and server config ($DEMO/server.conf)"
# The seccomp policies the client trusts only root-owned up to /: a copy in DEMO_DIR, so the
# demo also runs from a checkout under /tmp and keeps working when the checkout is gone.
install -d -m 0755 -o root -g root "$DEMO/policy"
install -m 0644 -o root -g root "$ROOT/policy/seccomp/borg.policy" "$ROOT/policy/seccomp/borg-restore.policy" "$DEMO/policy/"
umask 077
cat > "$DEMO/client/borg_env" <<EOF
# borgpull demo client
export BORG_REPO="ssh://backup-server$REPO"
export BORG_PASSPHRASE='$PASS'
BACKUP_SOCKET="/run/borgpull-demo/client.socket"
BORG_BACKUP_USER="$SSHU"
RUNNER_USER="$RUNNER"
SECCOMP_POLICY="$DEMO/policy/borg.policy"
STREAM_LOCAL_BIND_MASK=0117
STATE_DIR="$DEMO/state"
RESULT_FILE="$DEMO/state/last-backup.json"
ARCHIVE_PREFIX="demo"
EOF
echo "$DEMO/data" > "$DEMO/client/borg_paths"
umask 022
cat > "$DEMO/server.conf" <<EOF
# borgpull demo: server config for one client (borg_env dialect: data, never executed)
LOCAL_USER="$SRV"
REMOTE_USER="$SSHU"
REMOTE_HOST="127.0.0.1"
SSH_PORT="$PORT"
REPO_NAME="demo"
REPO_DIR="$REPO"
RUN_DIR="/run/borg-demo"
SOCKET_PATH="\${RUN_DIR}/\${REPO_NAME}.socket"
REMOTE_SOCKET_PATH="/run/borgpull-demo/client.socket"
SSH_IDENTITY="$SRV_SSH/id_ed25519"
SSH_KNOWN_HOSTS="$SRV_SSH/known_hosts"
CONNECT_TIMEOUT=10
BACKUP_TIMEOUT=600
EOF
chmod 0644 "$DEMO/server.conf"
"$DEMO/bin/borgpull-client" -c "$DEMO/client" SETUP

client_socket_live() {
    python3 -c "import socket;s=socket.socket(socket.AF_UNIX);s.settimeout(1);s.connect('/run/borgpull-demo/client.socket')" 2>/dev/null
}

if [ ! -f "$REPO/config" ]; then
    step "initialise the repository through SERVE (borg init runs on the client)"
    "$DEMO/bin/borgpull-server" -c "$DEMO/server.conf" SERVE > "$DEMO/serve.log" 2>&1 &
    SERVE_PID=$!
    for _ in $(seq 1 100); do client_socket_live && break; sleep 0.2; done
    client_socket_live || { cat "$DEMO/serve.log"; die "SERVE did not forward the socket"; }
    "$DEMO/bin/borgpull-client" -c "$DEMO/client" borg init --encryption=repokey-blake2
    kill -INT "$SERVE_PID"; wait "$SERVE_PID" || die "SERVE did not end cleanly (see $DEMO/serve.log)"
else
    step "repository $REPO exists (kept; this run adds an archive)"
fi

step "borgpull-server -c $DEMO/server.conf BACKUP"
rc=0
"$DEMO/bin/borgpull-server" -c "$DEMO/server.conf" BACKUP || rc=$?
[ "$rc" -le 1 ] || die "BACKUP failed with status $rc"

as_srv_borg() {
    setpriv --reuid="$SRV" --regid="$SRV" --init-groups -- env -i HOME="$SRV_HOME" PATH=/usr/bin:/bin LANG=C.UTF-8 \
        BORG_PASSPHRASE="$PASS" BORG_RELOCATED_REPO_ACCESS_IS_OK=yes borg "$@"
}

step "archives (borg list on the server, as $SRV)"
as_srv_borg list "$REPO"

step "restore check"
LAST=$(as_srv_borg list --short --last 1 "$REPO")
RESTORE="$SRV_HOME/demo-restore"
rm -rf "$RESTORE"; install -d -m 0700 -o "$SRV" -g "$SRV" "$RESTORE"
(cd "$RESTORE" && as_srv_borg extract "$REPO::$LAST" "${DEMO#/}/data")
diff -r "$DEMO/data" "$RESTORE$DEMO/data" && echo "restore of $LAST is byte-identical to $DEMO/data"

step "leftovers (must be none)"
if pgrep -a -f '[r]estrict-to-repository '"$REPO"; then die "borg serve still running"; fi
echo "no socat/borg serve left running"

kill "$(cat "$DEMO/sshd/sshd.pid")" 2>/dev/null || true
printf '\ndemo: OK (status %s). Configs: %s/server.conf, %s/client. Run it again to add an archive.\n' "$rc" "$DEMO" "$DEMO"
