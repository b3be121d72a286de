#!/usr/bin/env bash
# The deployment topology on this machine, without containers: three long-lived processes on the
# PostgreSQL Dagster instance ($DAGSTER_HOME/dagster.yaml), as Docker, ECS and Helm run them.
#
#   scripts/serve.sh up       start the code server (`dagster api grpc`), dagster-webserver and
#                             dagster-daemon (both on deploy/workspace.yaml) in the background; return
#                             once all three are healthy; write their addresses to the env file.
#                             With object notifications configured (HEIMDALL_EVENTS_SQS_QUEUE_URL, or
#                             HEIMDALL_EVENTS_MINIO_TABLE=on), also the consumer `heimdall-events`
#   scripts/serve.sh down     stop them (each with its child processes, runs included)
#   scripts/serve.sh status   report; exit 1 unless all three run
#   scripts/serve.sh dev      `dagster dev`, the one-process developer loop, on a free port
#
# The processes get this script's environment (`make serve` runs it under scripts/with_env.sh):
# the HEIMDALL_* settings, DAGSTER_HOME and DAGSTER_POSTGRES_URL. Ports are free loopback ports
# unless HEIMDALL_WEBSERVER_PORT / HEIMDALL_CODE_SERVER_PORT say otherwise. PIDs and logs go to
# $HEIMDALL_SERVE_STATE (default .devstack/serve); HEIMDALL_DAGSTER_URL, HEIMDALL_CODE_SERVER_HOST
# and HEIMDALL_CODE_SERVER_PORT to $HEIMDALL_SERVE_ENVFILE (default .devstack/env).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${HEIMDALL_SERVE_STATE:-$ROOT/.devstack/serve}
ENVFILE=${HEIMDALL_SERVE_ENVFILE:-$ROOT/.devstack/env}
BIN=${HEIMDALL_SERVE_BIN:-$ROOT/.venv/bin}
WORKSPACE=${HEIMDALL_SERVE_WORKSPACE:-$ROOT/deploy/workspace.yaml}
HOST=127.0.0.1
START_TIMEOUT=${HEIMDALL_SERVE_START_TIMEOUT:-180}
SERVICES=(code-server webserver daemon)

log() { echo "serve: $*"; }
die() { echo "serve: error: $*" >&2; exit 1; }

# pid_alive NAME: the recorded process exists and is the one we started (its command line matches).
pid_alive() {
    local f="$STATE/$1.pid" pid
    [ -f "$f" ] || return 1
    pid=$(head -n 1 "$f" 2>/dev/null || true)
    [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$(cat "$STATE/$1.match" 2>/dev/null || echo '?')"
}

free_port() {
    "$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_free() {
    "$BIN/python" -c 'import socket, sys; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

# choose_port NAME OVERRIDE: the override if given; else the port recorded for NAME if still free (or
# ours), else a free one.
choose_port() {
    local name=$1 override=$2 p=""
    if [ -n "$override" ]; then echo "$override"; return 0; fi
    [ -f "$STATE/$name.port" ] && p=$(cat "$STATE/$name.port")
    if [[ "$p" =~ ^[0-9]+$ ]] && { pid_alive "$name" || port_free "$p"; }; then echo "$p"; return 0; fi
    free_port
}

# start NAME MATCH CMD...: run CMD in a session of its own (so `down` stops it with its children,
# run workers included), logging to $STATE/NAME.log; MATCH identifies its command line later.
start() {
    local name=$1 match=$2; shift 2
    if pid_alive "$name"; then log "$name already running (pid $(cat "$STATE/$name.pid"))"; return 0; fi
    echo "$match" >"$STATE/$name.match"
    rm -f "$STATE/$name.pid"  # a dead process's PID must not pass for the new one's
    # A background job starts with SIGINT ignored, and Dagster maps SIGTERM to SIGINT's handler:
    # restore the default, or `down` could not stop it. The wrapper records its PID, then execs.
    setsid nohup "$BIN/python" -c '
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
with open(sys.argv[1], "w") as f:
    f.write(f"{os.getpid()}\n")
os.execv(sys.argv[2], sys.argv[2:])' "$STATE/$name.pid" "$@" >>"$STATE/$name.log" 2>&1 </dev/null &
    local deadline=$((SECONDS + 10))
    until [ -s "$STATE/$name.pid" ]; do [ "$SECONDS" -lt "$deadline" ] || die "$name did not start"; sleep 0.1; done
    log "$name started (pid $(cat "$STATE/$name.pid"), log ${STATE#"$ROOT"/}/$name.log)"
}

code_server_healthy() {
    "$BIN/dagster" api grpc-health-check -h "$HOST" -p "$CODE_SERVER_PORT" >/dev/null 2>&1
}

webserver_healthy() {
    curl -sf --max-time 2 "http://$HOST:$WEBSERVER_PORT/server_info" >/dev/null 2>&1
}

# Every daemon the instance needs has sent a heartbeat since our daemon started (heartbeats of
# a daemon that died earlier do not count). Polls inside one Python process: importing Dagster
# costs seconds.
wait_daemon_healthy() {
    local since=$1 timeout=$2
    "$BIN/python" - "$since" "$timeout" "$(cat "$STATE/daemon.pid")" <<'PY'
import os, sys, time
import warnings
warnings.filterwarnings("ignore")
from dagster import DagsterInstance

since, timeout, pid = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
deadline = time.time() + timeout
with DagsterInstance.get() as instance:
    required = set(instance.get_required_daemon_types())
    while True:
        beats = instance.get_daemon_heartbeats()
        fresh = {name for name, beat in beats.items() if beat.timestamp >= since}
        if required <= fresh:
            sys.exit(0)
        if time.time() > deadline or not os.path.exists(f"/proc/{pid}"):
            print(f"daemons without a heartbeat: {', '.join(sorted(required - fresh))}", file=sys.stderr)
            sys.exit(1)
        time.sleep(1)
PY
}

wait_until() { # wait_until SECONDS NAME CHECK
    local deadline=$((SECONDS + $1)) name=$2; shift 2
    until "$@"; do
        if ! pid_alive "$name"; then tail -n 30 "$STATE/$name.log" >&2; die "$name exited (log: $STATE/$name.log)"; fi
        if [ "$SECONDS" -ge "$deadline" ]; then tail -n 30 "$STATE/$name.log" >&2; die "$name not healthy after $1 s"; fi
        sleep 0.5
    done
}

# set_env_lines KEY=VALUE...: replace those keys' lines in the env file (other lines kept).
set_env_lines() {
    local keys="" kv
    for kv in "$@"; do keys="$keys|${kv%%=*}"; done
    { [ -f "$ENVFILE" ] && grep -vE "^(${keys#|})=" "$ENVFILE" || true; printf '%s\n' "$@"; } >"$ENVFILE.tmp"
    mv "$ENVFILE.tmp" "$ENVFILE"
}

drop_env_lines() {
    [ -f "$ENVFILE" ] || return 0
    { grep -vE '^(HEIMDALL_DAGSTER_URL|HEIMDALL_CODE_SERVER_HOST|HEIMDALL_CODE_SERVER_PORT)=' "$ENVFILE" || true; } >"$ENVFILE.tmp"
    mv "$ENVFILE.tmp" "$ENVFILE"
}

# The settings every process needs (HEIMDALL_*, DAGSTER_HOME, DAGSTER_POSTGRES_URL), checked before
# anything starts: a bad one is one line naming the variable (heimdall_pipeline.core.settings).
require_instance() {
    "$BIN/python" -c 'import sys; from heimdall_pipeline.core.settings import main; sys.exit(main(["--instance"]))' || exit 1
}

# --- one daemon per instance ----------------------------------------------------------------
# `make dev` and `make serve` each run a daemon. Two on one instance (DAGSTER_HOME) split it: both
# tick the sensor and schedules, one removes the other's state, runs land twice or fail. Whoever
# starts records itself in the instance's claim file; the other refuses while that process lives.
claim_file() { echo "$DAGSTER_HOME/heimdall-daemon.claim"; }

# claim_holder: "MODE PID" of the live process holding the claim, else nothing.
claim_holder() {
    local mode pid
    [ -f "$(claim_file)" ] || return 0
    read -r mode pid <"$(claim_file)" || true
    [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE 'dagster|serve\.sh' || return 0
    echo "$mode $pid"
}

# refuse_if_claimed MODE: one line and exit 1 if another process already runs a daemon on this instance.
refuse_if_claimed() {
    local holder
    holder=$(claim_holder)
    [ -n "$holder" ] || return 0
    local mode=${holder%% *} pid=${holder##* }
    [ "$1" = serve ] && [ "$mode" = serve ] && return 0  # make serve again: it adopts its own processes
    local how="make down stops it"
    [ "$mode" = dev ] && how="stop it with Ctrl-C in its terminal"
    die "the Dagster instance in $DAGSTER_HOME is already run by make $mode (pid $pid); a second daemon would split it: $how, or use its UI"
}

claim() { echo "$1 $2" >"$(claim_file)"; }

events_configured() {
    [ -n "${HEIMDALL_EVENTS_SQS_QUEUE_URL:-}" ] || [ "${HEIMDALL_EVENTS_MINIO_TABLE:-off}" = "on" ]
}

cmd_up() {
    require_instance
    refuse_if_claimed serve
    mkdir -p "$STATE"
    CODE_SERVER_PORT=$(choose_port code-server "${HEIMDALL_CODE_SERVER_PORT:-}")
    echo "$CODE_SERVER_PORT" >"$STATE/code-server.port"
    WEBSERVER_PORT=$(choose_port webserver "${HEIMDALL_WEBSERVER_PORT:-}")
    echo "$WEBSERVER_PORT" >"$STATE/webserver.port"
    export HEIMDALL_CODE_SERVER_HOST=$HOST HEIMDALL_CODE_SERVER_PORT=$CODE_SERVER_PORT

    start code-server "api grpc -m heimdall_pipeline.definitions -h $HOST -p $CODE_SERVER_PORT" \
        "$BIN/dagster" api grpc -m heimdall_pipeline.definitions -h "$HOST" -p "$CODE_SERVER_PORT" \
        --location-name heimdall_pipeline
    wait_until "$START_TIMEOUT" code-server code_server_healthy
    log "code server healthy on $HOST:$CODE_SERVER_PORT"

    local daemon_since
    daemon_since=$(date +%s)
    pid_alive daemon && daemon_since=0
    start webserver "dagster-webserver -w $WORKSPACE -h $HOST -p $WEBSERVER_PORT" \
        "$BIN/dagster-webserver" -w "$WORKSPACE" -h "$HOST" -p "$WEBSERVER_PORT"
    start daemon "dagster-daemon run -w $WORKSPACE" "$BIN/dagster-daemon" run -w "$WORKSPACE"
    claim serve "$(cat "$STATE/daemon.pid")"
    wait_until "$START_TIMEOUT" webserver webserver_healthy
    log "webserver healthy on http://$HOST:$WEBSERVER_PORT"
    wait_daemon_healthy "$daemon_since" "$START_TIMEOUT" \
        || { tail -n 30 "$STATE/daemon.log" >&2; die "daemon not healthy (log: $STATE/daemon.log)"; }
    log "daemon healthy (every required daemon sent a heartbeat)"

    if events_configured; then
        start events "heimdall-events" "$BIN/heimdall-events"
        sleep 1
        pid_alive events || { tail -n 30 "$STATE/events.log" >&2; die "heimdall-events exited (log: $STATE/events.log)"; }
        log "notification consumer running (heimdall-events)"
    fi

    set_env_lines "HEIMDALL_DAGSTER_URL=http://$HOST:$WEBSERVER_PORT" \
        "HEIMDALL_CODE_SERVER_HOST=$HOST" "HEIMDALL_CODE_SERVER_PORT=$CODE_SERVER_PORT"
    log "Dagster UI: http://$HOST:$WEBSERVER_PORT (HEIMDALL_DAGSTER_URL written to ${ENVFILE#"$ROOT"/})"
}

# stop NAME: TERM the process's session (it and its children), KILL what is left after 10 s (the code
# server otherwise waits up to 60 s for open calls).
stop() {
    local name=$1 pid
    if ! pid_alive "$name"; then rm -f "$STATE/$name.pid"; return 0; fi
    pid=$(cat "$STATE/$name.pid")
    log "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$STATE/$name.pid"
}

cmd_down() {
    [ -d "$STATE" ] || { log "not running"; return 0; }
    stop events
    stop daemon
    stop webserver
    stop code-server
    drop_env_lines
}

cmd_status() {
    local rc=0 name
    for name in "${SERVICES[@]}"; do
        if pid_alive "$name"; then
            log "$name running  pid $(cat "$STATE/$name.pid")  port $(cat "$STATE/$name.port" 2>/dev/null || echo -)"
        else
            log "$name not running"; rc=1
        fi
    done
    if pid_alive events; then log "events running  pid $(cat "$STATE/events.pid")"
    elif events_configured; then log "events not running"; rc=1
    fi
    return "$rc"
}

cmd_dev() {
    require_instance
    refuse_if_claimed dev
    local port=${HEIMDALL_WEBSERVER_PORT:-}
    if [ -z "$port" ]; then
        if port_free 3000; then port=3000; else port=$(free_port); fi
    fi
    log "Dagster UI: http://$HOST:$port"
    # From DAGSTER_HOME: started in the checkout, `dagster dev` sees ./dagster.yaml and warns that it
    # "will not be used", although DAGSTER_HOME links that very file.
    cd "$DAGSTER_HOME"
    claim dev $$  # exec keeps this PID
    # `dagster dev` warns that `dg dev` supersedes it. We keep it: one explicitly assembled
    # Definitions module, loaded through the same workspace name as the deployment (docs/developing.md).
    export PYTHONWARNINGS='ignore:Function `dev_command` is superseded'"${PYTHONWARNINGS:+,$PYTHONWARNINGS}"
    # The root workspace.yaml names the location `heimdall_pipeline`, as `make serve`'s code server
    # does: schedule and sensor state, toggles and retries follow the location's name.
    exec "$BIN/dagster" dev -w "$ROOT/workspace.yaml" -h "$HOST" -p "$port"
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    dev) cmd_dev ;;
    *) echo "usage: $0 {up|down|status|dev}" >&2; exit 2 ;;
esac
