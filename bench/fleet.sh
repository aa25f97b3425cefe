# bench/fleet.sh: the fleet section of run.sh (sourced after pull-real.sh and pull_real_setup).
#
# N simulated clients, each with its own ssh user bpbench-fleetI, configuration directory,
# state, socket directory, sudoers line, authorized keys file, server config and repository;
# one client sshd (policy/sshd/borgpull.conf's Match block once per user, pinned to the client
# CPU) and the server side pinned to the server CPU. Each client gets an untimed first backup,
# then the corpus gets the daily change (bench/mutate.py) and all N incremental BACKUPs are
# timed together, at most K at a time: all N `borgpull-server BACKUP` processes start at once and
# the server's own limit (MAX_CONCURRENT=K in a defaults file, README "Concurrency limit") lets K
# of them run; the others wait for a slot, as twenty timers firing together would.
# Measured: total wall, CPU of the whole server side (borgpull-server, socat, borg serve, ssh),
# peak summed RSS of the server side (bench/rss.py) and that divided by K.

FLEET_USERS=()
fleet_setup() { # N
    local n=$1 i u port blocks="" users=""
    FLEET_DIR=$PR/fleet
    install -d -m 0755 -o root -g root "$FLEET_DIR"
    FLEET_SUDOERS=/etc/sudoers.d/borgpull-bench-fleet-$$
    : > "$FLEET_SUDOERS.tmp"
    for i in $(seq 1 "$n"); do
        u=bpbench-fleet$i
        ensure_user "$u" "$FLEET_DIR/home$i"
        install -d -m 0700 -o "$u" -g "$u" "$FLEET_DIR/home$i"
        id -nG "$PR_RUNNER" | tr " " "\n" | grep -qx "$(id -gn "$u")" || usermod -a -G "$(id -gn "$u")" "$PR_RUNNER"
        install -d -m 0755 -o root -g root "$FLEET_DIR/c$i"
        install -d -m 0700 -o root -g root "$FLEET_DIR/c$i/client"
        install -d -m 0750 -o root -g "$(id -gn "$u")" "$FLEET_DIR/c$i/keys"
        install -m 0640 -o root -g "$(id -gn "$u")" "$RUN/ssh/id_srvpull.pub" "$FLEET_DIR/c$i/keys/backup_server_keys"
        printf '%s ALL=(root) NOPASSWD: %s -c %s BACKUP\n' "$u" "$PR/bin/borgpull-client" "$FLEET_DIR/c$i/client" >> "$FLEET_SUDOERS.tmp"
        blocks+=$(sed -e "s|^Match User borgpull|Match User $u|" \
            -e "s|^\( *\)AuthorizedKeysFile .*|\1AuthorizedKeysFile $FLEET_DIR/c$i/keys/backup_server_keys|" \
            -e "s|^\( *\)ForceCommand .*|\1ForceCommand $PR/bin/borgpull-client trigger --via sudo-client --client $PR/bin/borgpull-client --configs $FLEET_DIR/c$i/client --result $FLEET_DIR/c$i/state/last-backup.json|" \
            "$REPO_ROOT/policy/sshd/borgpull.conf")$'\n'
        users+=" $u"
        FLEET_USERS+=("$u")
    done
    chmod 0440 "$FLEET_SUDOERS.tmp"
    visudo -cf "$FLEET_SUDOERS.tmp" >/dev/null || { rm -f "$FLEET_SUDOERS.tmp"; die "visudo rejected the fleet drop-in"; }
    mv "$FLEET_SUDOERS.tmp" "$FLEET_SUDOERS"
    port=$(free_port)
    {
        printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nUsePAM no\n' "$port" "$PR/sshd/host_key" "$FLEET_DIR/sshd.pid"
        printf 'AllowUsers%s\nPermitRootLogin no\nAllowTcpForwarding no\nLogLevel ERROR\nMaxStartups 100\n' "$users"
        printf '%s' "$blocks"
    } > "$FLEET_DIR/sshd_config"
    /usr/sbin/sshd -t -f "$FLEET_DIR/sshd_config" || die "sshd -t failed for $FLEET_DIR/sshd_config"
    start_bg "${PIN_CLI[@]}" "$CGX" pull-cli /usr/sbin/sshd -D -e -f "$FLEET_DIR/sshd_config" 2>"$FLEET_DIR/sshd.log"
    for i in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
    echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$PR/sshd/host_key.pub")" > "$RUN/ssh/known_hosts.fleet"
    chmod 0644 "$RUN/ssh/known_hosts.fleet"
    for i in $(seq 1 "$n"); do
        u=bpbench-fleet$i
        local repo; repo=$(init_repo pull "fleet-$i")
        sed -e "s|^export BORG_REPO=.*|export BORG_REPO=\"ssh://bench-server$repo\"|" \
            -e "s|^BACKUP_SOCKET=.*|BACKUP_SOCKET=\"/run/borgpull-bench-f$i.$$/client.socket\"|" \
            -e "s|^BORG_BACKUP_USER=.*|BORG_BACKUP_USER=\"$u\"|" \
            -e "s|^STATE_DIR=.*|STATE_DIR=\"$FLEET_DIR/c$i/state\"|" \
            -e "s|^RESULT_FILE=.*|RESULT_FILE=\"$FLEET_DIR/c$i/state/last-backup.json\"|" \
            "$PR/borg_env.tmpl" > "$FLEET_DIR/c$i/client/borg_env"
        echo "$CORPUS" > "$FLEET_DIR/c$i/client/borg_paths"
        cp -p "$PR/client/borg_options_create" "$FLEET_DIR/c$i/client/"
        chmod 0600 "$FLEET_DIR/c$i/client/"*
        sed -e "s|^REMOTE_USER=.*|REMOTE_USER=\"$u\"|" -e "s|^SSH_PORT=.*|SSH_PORT=\"$port\"|" \
            -e "s|^REPO_DIR=.*|REPO_DIR=\"$repo\"|" -e "s|^RUN_DIR=.*|RUN_DIR=\"/run/borgpull-bench-srv-f$i.$$\"|" \
            -e "s|^REMOTE_SOCKET_PATH=.*|REMOTE_SOCKET_PATH=\"/run/borgpull-bench-f$i.$$/client.socket\"|" \
            -e "s|^SSH_KNOWN_HOSTS=.*|SSH_KNOWN_HOSTS=\"$RUN/ssh/known_hosts.fleet\"|" \
            "$PR/server.conf.tmpl" > "$FLEET_DIR/c$i/server.conf"
        chmod 0644 "$FLEET_DIR/c$i/server.conf"
        "$PR/bin/borgpull-client" -c "$FLEET_DIR/c$i/client" SETUP >"$FLEET_DIR/c$i/setup.log" 2>&1 \
            || die "fleet client $i: SETUP failed: $(cat "$FLEET_DIR/c$i/setup.log")"
    done
    log "fleet: $n clients (users ${FLEET_USERS[*]}), sshd 127.0.0.1:$port"
}

fleet_cleanup() {
    [ -z "${FLEET_SUDOERS:-}" ] || rm -f "$FLEET_SUDOERS" "$FLEET_SUDOERS.tmp"
    rm -rf /run/borgpull-bench-f*.$$ /run/borgpull-bench-srv-f*.$$ /run/borgpull-bench-slots.$$
}

fleet_backup() { # I: one BACKUP of client I (its log in $FLEET_DIR/cI/last.log)
    "${PIN_SRV[@]}" "$CGX" pull-srv "$PR/bin/borgpull-server" -c "$FLEET_DIR/c$1/server.conf" \
        --defaults "$FLEET_DIR/defaults.conf" --json BACKUP \
        >"$FLEET_DIR/c$1/last.json" 2>"$FLEET_DIR/c$1/last.log"
}

# fleet_run N K: untimed first backups, the daily change, then the timed incremental round.
# Appends "fleet N K wall srv_cpu cli_cpu srv_peak_kb failures" to $RUN/fleet.tsv.
fleet_run() {
    local n=$1 k=$2 i rc fails=0 t before after sampler running=0
    printf 'MAX_CONCURRENT=%s\nSLOT_DIR=/run/borgpull-bench-slots.%s\n' "$k" "$$" > "$FLEET_DIR/defaults.conf"
    chmod 0644 "$FLEET_DIR/defaults.conf"
    for i in $(seq 1 "$n"); do fleet_backup "$i" || [ $? = 1 ] || die "fleet client $i: first BACKUP failed: $(tail -5 "$FLEET_DIR/c$i/last.log")"; done
    python3 "$here/mutate.py" "$(dirname "$CORPUS")" apply >&2
    sync
    setsid python3 "$BENCH_LIB_DIR/rss.py" "$RUN/fleet-rss.out" "$PR/bin/borgpull-client" "$PR/bin/borgpull-server" \
        ${CGROOT:+"$CGROOT/pull-srv" "$CGROOT/pull-cli"} &
    sampler=$!; BG_PIDS+=("$sampler")
    before=$( [ -z "${CGROOT:-}" ] || cg_snapshot )
    t=$(now_ns)
    local pids=()
    for i in $(seq 1 "$n"); do
        fleet_backup "$i" & pids+=($!); running=$((running + 1))
    done
    while [ "$running" -gt 0 ]; do rc=0; wait -n || rc=$?; [ "$rc" -le 1 ] || fails=$((fails + 1)); running=$((running - 1)); done
    t=$(secs_since "$t")
    after=$( [ -z "${CGROOT:-}" ] || cg_snapshot )
    stop_bg "$sampler"
    python3 "$here/mutate.py" "$(dirname "$CORPUS")" revert
    local cpu srv cli peak
    cpu=$(paste -d' ' <(echo "$before") <(echo "$after") | awk '$1 != "" { printf "%s=%.3f ", $1, ($4 - $2) / 1e9 }')
    srv=$(sed -n 's/.*pull-srv=\([0-9.]*\).*/\1/p' <<<"$cpu"); cli=$(sed -n 's/.*pull-cli=\([0-9.]*\).*/\1/p' <<<"$cpu")
    peak=$(awk '$1 == "srv-total-kb" { print $2 }' "$RUN/fleet-rss.out" 2>/dev/null)
    printf 'fleet\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$k" "$t" "${srv:-}" "${cli:-}" "${peak:-}" "$fails" >> "$RUN/fleet.tsv"
    log "fleet: $n clients, at most $k at a time: ${t}s, server CPU ${srv:-?}s, peak server RSS ${peak:-?} kB, $fails failed"
}
