# bench/pull-real.sh: the "pull" row, through the real `borgpull-server -c CONF BACKUP` (sourced
# by run.sh after lib.sh and bench_setup).
#
# The client is set up like scripts/demo.sh: a second sshd on 127.0.0.1 whose config is
# policy/sshd/borgpull.conf with the user, the authorized keys file and the ForceCommand adapted
# (`borgpull-client trigger --via sudo-client`), a sudoers drop-in allowing exactly
# `borgpull-client -c DIR BACKUP`, the ssh user $PR_SSH_USER and the runner $PR_RUNNER (member of
# the ssh user's group), SECCOMP_POLICY = this worktree's policy/seccomp/borg.policy. So every borg
# of the pull row runs in the sandbox, as in production.
#
# The client audit refuses config files, binaries and state under a group/other-writable
# directory (OpenSSH safe_path rule; /var/tmp is 1777), so configs, binaries and state live in
# $PR = /var/lib/borgpull-bench.PID (root, 0755), removed on exit with the sockets' run
# directories and the sudoers drop-in. The repositories stay under $RUN/repos/pull (init_repo).
#
# Per BACKUP the client's result record (server --json: .record.steps[].seconds) gives the
# seconds of each client step; pull_real_finish writes them (and the phases around them, from
# timestamps on the server's stderr) to $RUN/steps.tsv and run.sh adds them as the rows
# pull-create, pull-prune, pull-connect, pull-start, pull-end.

PR_SSH_USER=${BENCH_PULL_USER:-bpbench-pull}
PR_RUNNER=${BENCH_RUNNER_USER:-bpbench-runner}
PR_POLICY=${BENCH_SECCOMP_POLICY:-$REPO_ROOT/policy/seccomp/borg.policy}
PR=""             # /var/lib/borgpull-bench.PID
PR_SUDOERS=""     # /etc/sudoers.d/borgpull-bench-PID
PR_REPO=""        # repository the configs currently point at
PR_SOCK_DIR=/run/borgpull-bench.$$          # client socket directory (created by SETUP)
PR_SRV_RUN=/run/borgpull-bench-srv.$$       # server RUN_DIR

pull_real_available() {
    [ -x "$BORGPULL_SERVER" ] && [ -x "$BORGPULL_CLIENT" ] && command -v sudo >/dev/null \
        && command -v visudo >/dev/null && [ -f "$PR_POLICY" ]
}

pull_real_borg_user() { echo root; }   # only owns the unused base_dir; borg runs as $PR_RUNNER

pull_real_cleanup() {
    [ -z "$PR_SUDOERS" ] || rm -f "$PR_SUDOERS"
    rm -rf "$PR_SOCK_DIR" "$PR_SRV_RUN"
    [ -z "$PR" ] || [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$PR"
}

pull_real_setup() {
    pull_real_available || die "pull: needs $BORGPULL_SERVER, $BORGPULL_CLIENT (swift build -c release), sudo and $PR_POLICY"
    # lib.sh's cleanup first (it stops the sshds by pid group and sees the exit status), then ours.
    trap 'bench_cleanup; pull_real_cleanup' EXIT

    PR=/var/lib/borgpull-bench.$$
    install -d -m 0755 -o root -g root "$PR" "$PR/bin" "$PR/sshd"
    install -d -m 0700 -o root -g root "$PR/client"
    install -m 0755 "$BORGPULL_CLIENT" "$BORGPULL_SERVER" "$PR/bin/"

    ensure_user "$PR_SSH_USER" "$PR/home"
    install -d -m 0700 -o "$PR_SSH_USER" -g "$PR_SSH_USER" "$PR/home"
    if ! id "$PR_RUNNER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PR_RUNNER"
    fi
    id -nG "$PR_RUNNER" | tr " " "\n" | grep -qx "$(id -gn "$PR_SSH_USER")" \
        || usermod -a -G "$(id -gn "$PR_SSH_USER")" "$PR_RUNNER"

    # ssh: the server's key (LOCAL_USER = $SRV_USER reads it), authorized keys outside the home
    # (root:sshuser 0750 / 0640), own host key and known_hosts for the second sshd.
    ssh-keygen -q -t ed25519 -N '' -C bench-pull-server -f "$RUN/ssh/id_srvpull"
    chown "$SRV_USER:" "$RUN/ssh/id_srvpull" "$RUN/ssh/id_srvpull.pub"
    install -d -m 0750 -o root -g "$(id -gn "$PR_SSH_USER")" "$PR/sshd/authorized_keys"
    install -m 0640 -o root -g "$(id -gn "$PR_SSH_USER")" "$RUN/ssh/id_srvpull.pub" \
        "$PR/sshd/authorized_keys/backup_server_keys"
    ssh-keygen -q -t ed25519 -N '' -f "$PR/sshd/host_key"
    PR_PORT=$(free_port)
    echo "[127.0.0.1]:$PR_PORT $(cut -d' ' -f1,2 "$PR/sshd/host_key.pub")" > "$RUN/ssh/known_hosts.pull"
    chmod 0644 "$RUN/ssh/known_hosts.pull"

    # sudoers: exactly the command the trigger runs (--via sudo-client).
    PR_SUDOERS=/etc/sudoers.d/borgpull-bench-$$
    printf '# borgpull bench (removed on exit): trigger --via sudo-client\n%s ALL=(root) NOPASSWD: %s -c %s BACKUP\n' \
        "$PR_SSH_USER" "$PR/bin/borgpull-client" "$PR/client" > "$PR_SUDOERS.tmp"
    chmod 0440 "$PR_SUDOERS.tmp"
    visudo -cf "$PR_SUDOERS.tmp" >/dev/null || { rm -f "$PR_SUDOERS.tmp"; die "visudo rejected the bench drop-in"; }
    mv "$PR_SUDOERS.tmp" "$PR_SUDOERS"

    # sshd: policy/sshd/borgpull.conf adapted as in scripts/demo.sh.
    {
        printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nUsePAM no\n' \
            "$PR_PORT" "$PR/sshd/host_key" "$PR/sshd/sshd.pid"
        printf 'AllowUsers %s\nPermitRootLogin no\nAllowTcpForwarding no\nLogLevel ERROR\nMaxStartups 100\n' "$PR_SSH_USER"
        sed -e "s|^Match User borgpull|Match User $PR_SSH_USER|" \
            -e "s|^\( *\)AuthorizedKeysFile .*|\1AuthorizedKeysFile $PR/sshd/authorized_keys/backup_server_keys|" \
            -e "s|^\( *\)ForceCommand .*|\1ForceCommand $PR/bin/borgpull-client trigger --via sudo-client --client $PR/bin/borgpull-client --configs $PR/client --result $PR/state/last-backup.json|" \
            "$REPO_ROOT/policy/sshd/borgpull.conf"
    } > "$PR/sshd/sshd_config"
    grep -q "ForceCommand $PR/bin/borgpull-client trigger --via sudo-client" "$PR/sshd/sshd_config" \
        || die "policy/sshd/borgpull.conf: could not adapt the ForceCommand"
    /usr/sbin/sshd -t -f "$PR/sshd/sshd_config" || die "sshd -t failed for $PR/sshd/sshd_config"
    # The client host: its sshd (and so the session, trigger, sudo, client, borg, relay) on the client CPU.
    start_bg "${PIN_CLI[@]}" "$CGX" pull-cli /usr/sbin/sshd -D -e -f "$PR/sshd/sshd_config" 2>"$PR/sshd/sshd.log"
    local i
    for i in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PR_PORT") 2>/dev/null && break
        sleep 0.05
    done

    # Client config (borg_env dialect). Same borg options as the other rows.
    {
        echo "# borgpull bench client"
        echo "export BORG_REPO=\"ssh://bench-server/unset\""
        echo "export BORG_PASSPHRASE='$PASSPHRASE'"
        echo "export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes"
        echo "BACKUP_SOCKET=\"$PR_SOCK_DIR/client.socket\""
        echo "BORG_BACKUP_USER=\"$PR_SSH_USER\""
        echo "RUNNER_USER=\"$PR_RUNNER\""
        echo "SECCOMP_POLICY=\"$PR_POLICY\""
        echo "STREAM_LOCAL_BIND_MASK=0117"
        echo "STATE_DIR=\"$PR/state\""
        echo "RESULT_FILE=\"$PR/state/last-backup.json\""
        echo "ARCHIVE_PREFIX=\"bench\""
        # Nothing is deleted within a day: prune walks the archive list and keeps all
        # (the default KEEP_DAILY=7 would delete the first archive after the re-run).
        echo "KEEP_WITHIN=1d"
    } > "$PR/client/borg_env.tmpl"
    chmod 0600 "$PR/client/borg_env.tmpl"
    echo "$CORPUS" > "$PR/client/borg_paths"
    echo "--compression=$COMPRESSION" > "$PR/client/borg_options_create"
    chmod 0600 "$PR/client/borg_paths" "$PR/client/borg_options_create"
    cp -p "$PR/client/borg_env.tmpl" "$PR/client/borg_env"
    mv "$PR/client/borg_env.tmpl" "$PR/borg_env.tmpl"

    # Server config (one client).
    {
        echo "LOCAL_USER=\"$SRV_USER\""
        echo "REMOTE_USER=\"$PR_SSH_USER\""
        echo "REMOTE_HOST=\"127.0.0.1\""
        echo "SSH_PORT=\"$PR_PORT\""
        echo "REPO_NAME=\"bench\""
        echo "REPO_DIR=\"/unset\""
        echo "RUN_DIR=\"$PR_SRV_RUN\""
        echo "SOCKET_PATH=\"\${RUN_DIR}/\${REPO_NAME}.socket\""
        echo "REMOTE_SOCKET_PATH=\"$PR_SOCK_DIR/client.socket\""
        echo "SSH_IDENTITY=\"$RUN/ssh/id_srvpull\""
        echo "SSH_KNOWN_HOSTS=\"$RUN/ssh/known_hosts.pull\""
        echo "CONNECT_TIMEOUT=10"
        echo "BACKUP_TIMEOUT=3600"
    } > "$PR/server.conf.tmpl"
    chmod 0644 "$PR/server.conf.tmpl"

    "$PR/bin/borgpull-client" -c "$PR/client" SETUP >"$PR/setup.log" 2>&1 \
        || die "borgpull-client SETUP failed: $(cat "$PR/setup.log")"
    log "pull: borgpull-server BACKUP -> sshd 127.0.0.1:$PR_PORT (ForceCommand trigger --via sudo-client), configs $PR"
}

# pull_real_prepare REPO BASE: point both configs at REPO (a fresh repository = a first run:
# the client's borg cache, STATE_DIR/borg, is removed too). Not timed.
pull_real_prepare() {
    local repo=$1
    [ "$repo" != "$PR_REPO" ] || return 0
    sed "s|^export BORG_REPO=.*|export BORG_REPO=\"ssh://bench-server$repo\"|" "$PR/borg_env.tmpl" > "$PR/client/borg_env"
    sed "s|^REPO_DIR=.*|REPO_DIR=\"$repo\"|" "$PR/server.conf.tmpl" > "$PR/server.conf"
    echo "$CORPUS" > "$PR/client/borg_paths"     # the current workload's corpus
    chmod 0600 "$PR/client/borg_env"; chmod 0644 "$PR/server.conf"
    rm -rf "$PR/state/borg"
    PR_REPO=$repo
}

# pull_real_run REPO BASE ARCHIVE: the timed part, the whole server BACKUP. Returns its status.
# The server's stderr (with the client's log, "  | " lines) gets a timestamp per line from a bash
# loop ($EPOCHREALTIME, no extra program) for pull_real_finish.
pull_real_run() {
    local rc=0 sampler
    # Peak RSS of borgpull-server and borgpull-client (bench/rss.py, 20 ms samples of VmHWM).
    setsid python3 "$BENCH_LIB_DIR/rss.py" "$RUN/rss.out" "$PR/bin/borgpull-client" "$PR/bin/borgpull-server" \
        ${CGROOT:+"$CGROOT/pull-srv" "$CGROOT/pull-cli"} &
    sampler=$!; BG_PIDS+=("$sampler")
    # BENCH_TRACE=DIR: where each millisecond goes, at a price (strace slows every exec): both
    # sides under strace -f (the client through its sshd), execve/exit/connect with timestamps.
    local tracer="" strace_srv=()
    if [ -n "${BENCH_TRACE:-}" ]; then
        mkdir -p "$BENCH_TRACE"
        strace -f -ttt -qq --seccomp-bpf -e trace=execve,exit_group,connect -o "$BENCH_TRACE/client.$EPOCHSECONDS" \
            -p "$(cat "$PR/sshd/sshd.pid")" & tracer=$!
        sleep 0.3
        strace_srv=(strace -f -ttt -qq --seccomp-bpf -e trace=execve,exit_group,connect -o "$BENCH_TRACE/server.$EPOCHSECONDS")
    fi
    PR_T0=$EPOCHREALTIME
    "${PIN_SRV[@]}" "${strace_srv[@]}" "$CGX" pull-srv "$PR/bin/borgpull-server" -c "$PR/server.conf" --json BACKUP 2>&1 >"$RUN/pull-real.json" \
        | while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done >"$RUN/pull-real.stderr"
    rc=${PIPESTATUS[0]}
    PR_T1=$EPOCHREALTIME
    stop_bg "$sampler"
    if [ -n "$tracer" ]; then kill "$tracer"; wait "$tracer" 2>/dev/null || true; fi
    return $rc
}

# pull_real_finish: after the timing. Shows the server's stderr in the run's log and writes
# $RUN/steps.tsv: the client's create and prune seconds (result record) and the phases around
# them from the timestamps: connect (server start -> the trigger's first line: server start-up,
# socat, ssh connect + auth, ForceCommand), start (-> "borg create" logged: sudo, client config +
# audit, socket check, lock, pre hook), end (the client's last line -> the server exits: post
# hook, result record, summary, stopping ssh/socat/borg serve, removing the socket).
pull_real_finish() {
    sed 's/^[0-9.]* //' "$RUN/pull-real.stderr" >&2
    python3 - "$RUN/pull-real.json" "$RUN/pull-real.stderr" "$PR_T0" "$PR_T1" "$PR/state/last-backup.json" >"$RUN/steps.tsv" <<'PY' || true
import json, os, sys
jf, ef, t0, t1, rf = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
try:
    rec = json.load(open(jf)).get("record") or {}
except (OSError, ValueError):
    rec = {}
steps = {s["name"]: s.get("seconds") for s in rec.get("steps", [])}
for name in ("create", "prune"):
    if steps.get(name) is not None:
        print(f"pull-{name}\t{steps[name]:.3f}")
lines = []
for l in open(ef, errors="replace"):
    ts, _, text = l.rstrip("\n").partition(" ")
    lines.append((float(ts), text))
first = lambda pred: next((t for t, x in lines if pred(x)), None)
trig = first(lambda x: "borgpull-client trigger: starting" in x)
# The client's result record is written when its BACKUP ends (after prune): its mtime splits
# the rest of the run into start (before create, between the steps, the record) and end.
try:
    done = os.stat(rf).st_mtime_ns / 1e9
except OSError:
    done = None
if trig:
    print(f"pull-connect\t{trig - t0:.3f}")
    if done and done > trig and all(steps.get(n) is not None for n in ("create", "prune")):
        print(f"pull-start\t{done - trig - steps['create'] - steps['prune']:.3f}")
if done and t0 < done < t1:
    print(f"pull-end\t{t1 - done:.3f}")
PY
}
