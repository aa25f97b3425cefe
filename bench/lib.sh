# bench/lib.sh: shared setup for bench/run.sh and bench/breakdown.sh (sourced, not run).
#
# Sets up, under $RUN (a scratch directory removed on exit):
#   - two users: $SRV_USER (the backup server: owns the push/pull repositories, runs
#     borg serve and socat) and $CLI_USER (the client's ssh user: sshd binds the forwarded
#     socket as this user; its ForceCommand runs the client's borg create in the pull path)
#   - an sshd on 127.0.0.1:$PORT with its own host key, config and the client's Match block
#   - keys and a known_hosts entry [127.0.0.1]:PORT (StrictHostKeyChecking=yes)
# and provides one function per variant. Every process started here is killed by
# bench_cleanup (trap on EXIT/INT/TERM), by pid or process group, never by name.

set -euo pipefail

BENCH_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_LIB_DIR/.." && pwd)

SRV_USER=${BENCH_SRV_USER:-bpbench-srv}
CLI_USER=${BENCH_CLI_USER:-bpbench-cli}
# Below root-owned directories that nobody else may write: the server, as root, reads its config
# only there (the trusted open), and the client's audit judges every parent (no sticky /var/tmp).
WORKDIR=${BENCH_WORKDIR:-/var/lib/borgpull-bench}
ENCRYPTION=${BENCH_ENCRYPTION:-repokey-blake2}
COMPRESSION=${BENCH_COMPRESSION:-lz4}
PASSPHRASE=bench-passphrase          # same for every variant; only used by this benchmark
SSH_EXTRA_OPTS=()                    # tweaks: e.g. (-c aes128-gcm@openssh.com)
SOCAT_BUF=""                         # tweaks: e.g. 131072 -> socat -b 131072 on both ends

# The client relay used by the pull path (BORG_RSH). Must accept and ignore the arguments
# borg appends (host, "borg serve ..."). %SOCKET% and %PEERUID% are substituted.
# Drop-in for the real tool: 'borgpull-client relay --socket %SOCKET% --peer-uid %PEERUID%'
PULL_RELAY=${BENCH_PULL_RELAY:-"sh -c 'exec %CGX% relay socat %SOCAT_B% STDIO UNIX-CONNECT:%SOCKET%'"}

# The built commands (swift build -c release); used by the pull and pull-relay rows.
BORGPULL_CLIENT=${BORGPULL_CLIENT:-$REPO_ROOT/.build/release/borgpull-client}
BORGPULL_SERVER=${BORGPULL_SERVER:-$REPO_ROOT/.build/release/borgpull-server}

# Two hosts on one machine (run.sh --pin): the client side runs on CPU $PIN_CLIENT_CPU, the server
# side on $PIN_SERVER_CPU (taskset; children inherit the affinity). Empty arrays: not pinned.
PIN_CLI=()       # e.g. (taskset -c 0)
PIN_SRV=()       # e.g. (taskset -c 1)

BG_PIDS=()       # process-group leaders started by us (killed as groups on cleanup)
SSHD_PID=""

log() { printf '%s\n' "bench: $*" >&2; }
die() { printf '%s\n' "bench: error: $*" >&2; exit 1; }

now_ns() { date +%s%N; }
secs_since() { # START_NS -> seconds with 3 decimals
    local d=$(( $(date +%s%N) - $1 ))
    printf '%d.%03d' $((d / 1000000000)) $(((d / 1000000) % 1000))
}

bench_cleanup() {
    local rc=$?
    set +e
    local p
    for p in "${BG_PIDS[@]}"; do
        kill -TERM -- "-$p" 2>/dev/null
    done
    if [ -n "$SSHD_PID" ]; then
        kill -TERM "$SSHD_PID" 2>/dev/null
        wait "$SSHD_PID" 2>/dev/null
    fi
    for p in "${BG_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    if [ -n "${CGROOT:-}" ] && [ -d "$CGROOT" ]; then
        for p in "$CGROOT"/*/; do rmdir "$p" 2>/dev/null; done
        rmdir "$CGROOT" 2>/dev/null || log "could not remove cgroup $CGROOT (processes left?)"
    fi
    if [ -n "${RUN:-}" ] && [ -d "$RUN" ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
        rm -rf "$RUN"
    fi
    return $rc
}

# start_bg CMD...: run CMD in the background as the leader of its own process group.
# (bash without job control does not make background jobs group leaders, so setsid execs
# CMD directly and $! is CMD's pid.)
start_bg() {
    setsid "$@" &
    BG_PIDS+=("$!")
    LAST_BG=$!
}

# stop_bg PID: TERM the process group, wait for the leader, drop it from BG_PIDS.
stop_bg() {
    local pid=$1 p keep=()
    kill -TERM -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${BG_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    BG_PIDS=("${keep[@]}")
}

# CPU accounting (bench/breakdown.sh): one cpuacct cgroup (v1) per component. cg-exec
# moves each component into its cgroup right before exec; children inherit it.
CG_COMPONENTS="borg-create borg-serve ssh sshd socat-srv relay pull-srv pull-cli"
cg_setup() { # must run before bench_setup starts sshd
    local base=${BENCH_CPUACCT:-/sys/fs/cgroup/cpuacct} c
    [ -w "$base/cgroup.procs" ] || die "no writable cgroup v1 cpuacct hierarchy at $base"
    CGROOT="$base/borgpull-bench.$$"
    mkdir "$CGROOT"
    for c in $CG_COMPONENTS; do
        mkdir "$CGROOT/$c"
        chmod 0666 "$CGROOT/$c/cgroup.procs"   # the bench users move themselves (their own pids only)
    done
}
cg_snapshot() { # prints "name usage_ns" for each component and "machine" (everything on the box)
    local c
    for c in $CG_COMPONENTS; do echo "$c $(cat "$CGROOT/$c/cpuacct.usage")"; done
    echo "machine $(cat "$(dirname "$CGROOT")/cpuacct.usage")"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

ensure_user() { # NAME HOME
    if ! id "$1" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir "$2" --shell /bin/sh "$1"
    fi
    usermod --home "$2" --shell /bin/sh "$1" >/dev/null 2>&1 || true
    usermod -p '*' "$1" >/dev/null 2>&1 || true           # useradd leaves it locked; with UsePAM no sshd refuses locked accounts
}

# bench_setup CORPUS_DIR: users, directories, keys, sshd. Sets RUN, PORT, CORPUS.
bench_setup() {
    [ "$(id -u)" = 0 ] || die "run as root (it creates users and an sshd on 127.0.0.1)"
    local c
    for c in borg socat sshd ssh ssh-keygen setpriv python3; do
        command -v "$c" >/dev/null || die "missing $c (apt-get install -y borgbackup socat openssh-server)"
    done
    CORPUS=$1/data
    [ -d "$CORPUS" ] || die "no corpus at $CORPUS"
    mkdir -p -m 0755 "$WORKDIR"
    RUN=$(mktemp -d "$WORKDIR/run.XXXXXX")
    chmod 0755 "$RUN"
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    [ "${BENCH_CPU:-0}" != 1 ] || cg_setup

    mkdir -p -m 0755 "$RUN/ssh" "$RUN/repos" "$RUN/bin" "$RUN/base"
    mkdir -p -m 0700 "$RUN/home-srv" "$RUN/home-cli" "$RUN/sock-srv" "$RUN/sock-cli" "$RUN/pullenv"
    ensure_user "$SRV_USER" "$RUN/home-srv"
    ensure_user "$CLI_USER" "$RUN/home-cli"
    SRV_UID=$(id -u "$SRV_USER"); CLI_UID=$(id -u "$CLI_USER")
    chown "$SRV_USER:" "$RUN/home-srv" "$RUN/sock-srv"
    chown "$CLI_USER:" "$RUN/home-cli" "$RUN/sock-cli" "$RUN/pullenv"
    mkdir -p -m 0700 "$RUN/repos/push" "$RUN/repos/pull" "$RUN/repos/local"
    chown "$SRV_USER:" "$RUN/repos/push" "$RUN/repos/pull"

    # Keys: host key; root's key for push (root@client -> SRV_USER@server, borg serve) and for
    # pull (root@server -> CLI_USER@client, ssh -R + ForceCommand).
    ssh-keygen -q -t ed25519 -N '' -f "$RUN/ssh/host_ed25519"
    ssh-keygen -q -t ed25519 -N '' -f "$RUN/ssh/id_push"
    ssh-keygen -q -t ed25519 -N '' -f "$RUN/ssh/id_pull"
    printf 'restrict,command="'"$RUN"'/bin/cg-exec borg-serve borg serve --append-only --restrict-to-path %s" %s\n' \
        "$RUN/repos/push" "$(cat "$RUN/ssh/id_push.pub")" > "$RUN/ssh/authorized_keys.$SRV_USER"
    cat "$RUN/ssh/id_pull.pub" > "$RUN/ssh/authorized_keys.$CLI_USER"
    chmod 0644 "$RUN/ssh/authorized_keys."*

    # cg-exec NAME CMD...: move this process into the bench's cpuacct cgroup NAME (only when
    # bench/breakdown.sh created them; else a no-op) and exec CMD. Used on every variant alike.
    cat > "$RUN/bin/cg-exec" <<EOF
#!/bin/sh
d=\$(cat "$RUN/cg.root" 2>/dev/null) || d=
if [ -n "\$d" ] && [ -w "\$d/\$1/cgroup.procs" ]; then echo \$\$ > "\$d/\$1/cgroup.procs"; fi
shift
exec "\$@"
EOF
    chmod 0755 "$RUN/bin/cg-exec"
    [ -z "${CGROOT:-}" ] || echo "$CGROOT" > "$RUN/cg.root"
    CGX="$RUN/bin/cg-exec"

    # The client side of the pull path (what the ForceCommand runs in the interim variant).
    cat > "$RUN/bin/pull-client" <<EOF
#!/bin/sh
# ForceCommand of $CLI_USER: ignores SSH_ORIGINAL_COMMAND, runs the client's borg create
# through the relay (BORG_RSH) to the forwarded socket. Settings come from the harness.
set -a; . "$RUN/pullenv/env"; set +a
exec $RUN/bin/cg-exec borg-create borg create \$BORG_CREATE_OPTS "::\$ARCHIVE" "\$CORPUS"
EOF
    chmod 0755 "$RUN/bin/pull-client"

    PORT=$(free_port)
    mkdir -p -m 0755 /run/sshd
    cat > "$RUN/ssh/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $RUN/ssh/host_ed25519
PidFile $RUN/ssh/sshd.pid
UsePAM no
StrictModes no
AuthorizedKeysFile $RUN/ssh/authorized_keys.%u
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers $SRV_USER $CLI_USER
PermitRootLogin no
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding no
AllowStreamLocalForwarding no
PermitTTY no
LogLevel ERROR
MaxStartups 100
Match User $CLI_USER
    StreamLocalBindUnlink yes
    StreamLocalBindMask 0177
    AllowStreamLocalForwarding remote
    AllowTcpForwarding remote
    PermitListen none
    PermitTTY no
    ForceCommand $RUN/bin/pull-client
    ClientAliveInterval 30
    ClientAliveCountMax 3
EOF
    /usr/sbin/sshd -t -f "$RUN/ssh/sshd_config" || die "sshd -t failed"
    # The push row's server side (sshd session + borg serve): pinned to the server CPU.
    "${PIN_SRV[@]}" "$CGX" sshd /usr/sbin/sshd -D -e -f "$RUN/ssh/sshd_config" 2>"$RUN/ssh/sshd.log" &
    SSHD_PID=$!
    local i
    for i in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        kill -0 "$SSHD_PID" 2>/dev/null || die "sshd exited: $(cat "$RUN/ssh/sshd.log")"
        sleep 0.05
    done
    echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$RUN/ssh/host_ed25519.pub")" > "$RUN/ssh/known_hosts"
    chmod 0644 "$RUN/ssh/known_hosts"
    SSH_BASE=(ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes
              -o UserKnownHostsFile="$RUN/ssh/known_hosts" -o ServerAliveInterval=30)
    log "sshd on 127.0.0.1:$PORT (pid $SSHD_PID), scratch $RUN"
}

borg_common_env() {
    export BORG_PASSPHRASE=$PASSPHRASE
    export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
    export BORG_RELOCATED_REPO_ACCESS_IS_OK=no
    export BORG_HOST_ID=borgpull-bench
}
BORG_CREATE_OPTS="--compression $COMPRESSION"

# init_repo KIND NAME -> path. Local repos belong to root; push/pull ones to SRV_USER.
init_repo() {
    local kind=$1 name=$2 path="$RUN/repos/$1/$2" user=root
    [ "$kind" = local ] || user=$SRV_USER
    ( borg_common_env; export BORG_BASE_DIR="$RUN/base/init-$kind-$name"
      mkdir -p "$BORG_BASE_DIR"; chown "$user:" "$BORG_BASE_DIR"
      setpriv --reuid="$user" --regid="$user" --init-groups \
          borg init --encryption "$ENCRYPTION" "$path" ) >"$RUN/init-$kind-$name.log" 2>&1 \
        || die "borg init $path failed: $(cat "$RUN/init-$kind-$name.log")"
    echo "$path"
}

# base_dir NAME USER: a fresh BORG_BASE_DIR (cache, security dir) for one variant+rep.
base_dir() {
    local d="$RUN/base/$1"
    mkdir -p "$d"; chown "$2:" "$d"; chmod 0700 "$d"
    echo "$d"
}

ssh_opts_string() { # the ssh options used by push and pull, as one shell-quoted string
    local out="" a
    for a in "${SSH_BASE[@]}" "${SSH_EXTRA_OPTS[@]}"; do out+="$(printf '%q ' "$a")"; done
    echo "$out"
}

# ---- variants. Each: VARIANT_run REPO BASEDIR ARCHIVE; prints nothing, returns borg's rc.

# (a) local borg create to a local repository (pinned to the client CPU).
local_run() {
    ( borg_common_env; export BORG_BASE_DIR=$2
      "${PIN_CLI[@]}" "$CGX" borg-create borg create $BORG_CREATE_OPTS "$1::$3" "$CORPUS" )
}

# (b) push: borg create ssh:// over the loopback sshd (SRV_USER runs borg serve).
push_run() {
    ( borg_common_env; export BORG_BASE_DIR=$2
      export BORG_RSH="$CGX ssh $(ssh_opts_string) -i $RUN/ssh/id_push"
      "${PIN_CLI[@]}" "$CGX" borg-create borg create $BORG_CREATE_OPTS "ssh://$SRV_USER@127.0.0.1:$PORT$1::$3" "$CORPUS" )
}

# The prune the pull client runs (BorgCommands.prune with ARCHIVE_PREFIX=bench, KEEP_WITHIN=1d):
# only this host's timestamped archives, keep everything within a day.
PRUNE_GLOB='bench-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'

# (b') push+prune: what borgmatic's default actions run over ssh: borg create, then borg prune,
# each its own borg and ssh connection. Archive bench-{now} as the pull client names them.
# Writes $RUN/steps.tsv: the rows push (the create) and push-prune (the prune), seconds each.
push_prune_run() {
    local t rc=0
    t=$(now_ns)
    push_run "$1" "$2" "bench-{now}" || rc=$?
    printf 'push\t%s\n' "$(secs_since "$t")" > "$RUN/steps.tsv"
    [ "$rc" -le 1 ] || return $rc
    t=$(now_ns)
    ( borg_common_env; export BORG_BASE_DIR=$2
      export BORG_RSH="$CGX ssh $(ssh_opts_string) -i $RUN/ssh/id_push"
      "${PIN_CLI[@]}" "$CGX" borg-create borg prune --lock-wait 1 --list --glob-archives="$PRUNE_GLOB" \
          --keep-within 1d "ssh://$SRV_USER@127.0.0.1:$PORT$1" ) || rc=$?
    printf 'push-prune\t%s\n' "$(secs_since "$t")" >> "$RUN/steps.tsv"
    return $rc
}

socat_b() { [ -n "$SOCAT_BUF" ] && echo "-b $SOCAT_BUF" || true; }

# (c, interim) pull over socat: the transport borgpull-server/borgpull-client use.
#   server: socat UNIX-LISTEN:S,fork EXEC:"borg serve --append-only --restrict-to-repository R"
#           (as SRV_USER), wait until S listens, then ssh -R C:S CLI_USER@client
#   client: sshd binds C as CLI_USER, ForceCommand runs borg create with BORG_RSH = relay
#   server: when ssh returns, stop socat (and any borg serve), remove S
pull_socat_run() { pull_transport_run "$PULL_RELAY" "$@"; }

# (c, interim, built-in relay) the same transport, with borgpull-client's relay as BORG_RSH
# (connects C, checks SO_PEERCRED = the ssh user, copies). Needs BORGPULL_CLIENT.
pull_relay_run() {
    pull_transport_run "%CGX% relay $BORGPULL_CLIENT_COPY relay --socket %SOCKET% --peer-uid %PEERUID%" "$@"
}
# install_borgpull_client: copy the built binary where the client user can run it.
install_borgpull_client() {
    [ -x "${BORGPULL_CLIENT:-}" ] || die "BORGPULL_CLIENT (the built borgpull-client) is not executable"
    BORGPULL_CLIENT_COPY="$RUN/bin/borgpull-client"
    install -m 0755 "$BORGPULL_CLIENT" "$BORGPULL_CLIENT_COPY"
}

pull_transport_run() { # RELAY_TEMPLATE REPO BASE ARCHIVE
    local repo=$2 base=$3 archive=$4
    local S="$RUN/sock-srv/borg.sock" C="$RUN/sock-cli/borg.sock"
    local relay=${1//%SOCKET%/$C}
    relay=${relay//%PEERUID%/$CLI_UID}
    relay=${relay//%CGX%/$CGX}
    relay=${relay//%SOCAT_B%/$(socat_b)}
    {
        echo "BORG_PASSPHRASE='$PASSPHRASE'"
        echo "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes"
        echo "BORG_RELOCATED_REPO_ACCESS_IS_OK=no"
        echo "BORG_HOST_ID=borgpull-bench"
        echo "BORG_BASE_DIR='$base'"
        echo "BORG_REPO='ssh://borgpull-server$repo'"
        echo "BORG_RSH=\"$relay\""
        echo "BORG_CREATE_OPTS='$BORG_CREATE_OPTS'"
        echo "ARCHIVE='$archive'"
        echo "CORPUS='$CORPUS'"
    } > "$RUN/pullenv/env"
    chown "$CLI_USER:" "$RUN/pullenv/env"; chmod 0600 "$RUN/pullenv/env"

    start_bg env BORG_BASE_DIR="$RUN/home-srv/.borg" \
        setpriv --reuid="$SRV_USER" --regid="$SRV_USER" --init-groups \
        "$CGX" socat-srv socat $(socat_b) "UNIX-LISTEN:$S,fork,unlink-early,umask=0077" \
        EXEC:"$CGX borg-serve borg serve --append-only --restrict-to-repository $repo"
    local socat_pid=$LAST_BG i
    for i in $(seq 200); do  # wait until S listens (no test connection: it would start a borg serve)
        grep -q " $S\$" /proc/net/unix 2>/dev/null && break
        sleep 0.01
    done
    local rc=0
    "$CGX" ssh "${SSH_BASE[@]}" "${SSH_EXTRA_OPTS[@]}" -T -o ExitOnForwardFailure=yes -i "$RUN/ssh/id_pull" \
        -p "$PORT" -R "$C:$S" "$CLI_USER@127.0.0.1" </dev/null || rc=$?
    stop_bg "$socat_pid"
    rm -f "$S"
    return $rc
}
