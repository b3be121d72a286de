#!/usr/bin/env bash
# Local service stack for heimdall-pipeline: TimescaleDB (PostgreSQL 15 cluster), a moto S3
# server, RabbitMQ (the Celery broker, as Heimdall runs it) and Redis (the result backend, and a
# second broker the tests use), all bound to 127.0.0.1 on ports picked once per checkout.
#
#   scripts/devstack.sh up       start (or adopt) the services, write .devstack/env
#   scripts/devstack.sh down     stop this checkout's services (by their recorded PIDs)
#   scripts/devstack.sh status   report; exit 1 unless all four run
#   scripts/devstack.sh env      print .devstack/env
#   scripts/devstack.sh clean    stop, then remove .devstack/ (and the cluster, wherever it lives)
#
# If HEIMDALL_DATABASE_URL and HEIMDALL_S3_ENDPOINT_URL are both set (a real TimescaleDB
# and MinIO), `up` provisions nothing (the Celery URLs are then yours to set as well).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="$ROOT/.devstack"
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PG_PIDFILE="$STATE/postgres.pid"
S3_PIDFILE="$STATE/moto.pid"
S3LOG="$STATE/moto.log"
REDIS_PIDFILE="$STATE/redis.pid"
REDIS_LOG="$STATE/redis.log"
RABBITMQ_PIDFILE="$STATE/rabbitmq.pid"
RABBITMQ_HOME="$STATE/rabbitmq"
ENVFILE="$STATE/env"
VENV="$ROOT/.venv"
BUCKET=heimdall-raw-iq
AWS_KEY=heimdall
AWS_SECRET=heimdall-secret
AWS_REGION_NAME=us-east-1

log() { echo "devstack: $*"; }
die() { echo "devstack: error: $*" >&2; exit 1; }

# --- running commands as the cluster owner --------------------------------------------
# root cannot run postgres, so as root the cluster belongs to the `postgres` system user;
# a normal user owns the cluster directly.
if [ "$(id -u)" -eq 0 ]; then
    PGUSER_OS=postgres
    id "$PGUSER_OS" >/dev/null 2>&1 || die "no 'postgres' system user (is the postgresql package installed?)"
    as_pg() { (cd / && runuser -u "$PGUSER_OS" -- "$@"); }
else
    PGUSER_OS=$(id -un)
    as_pg() { (cd / && "$@"); }
fi

# --- where the cluster lives -----------------------------------------------------------
# The postgres-owned files (cluster, socket directory, log) must be reachable by that user. A
# checkout inside a private directory (`mktemp -d` makes mode 700) is not: then they live in
# /var/lib/heimdall-devstack/<hash of the checkout path>, recorded in .devstack/pg.home.
set_pg_paths() {
    PG_HOME=$(cat "$STATE/pg.home" 2>/dev/null || echo "$STATE")
    PGDATA="$PG_HOME/pgdata"
    PGSOCK="$PG_HOME/pgsock"
    PGLOG="$PG_HOME/postgres.log"
}
set_pg_paths

choose_pg_home() { # called by `up` once .devstack exists
    [ -f "$STATE/pg.home" ] && return 0
    as_pg test -x "$STATE" && return 0
    local home
    home="/var/lib/heimdall-devstack/$(printf '%s' "$ROOT" | sha256sum | cut -c1-16)"
    log "$PGUSER_OS cannot reach $STATE (a parent directory is private); the cluster goes to $home"
    mkdir -p "$home" && chmod 755 /var/lib/heimdall-devstack "$home" && chown "$PGUSER_OS": "$home"
    echo "$home" >"$STATE/pg.home"
    set_pg_paths
}

# --- helpers ----------------------------------------------------------------------------
pyexe() {
    if [ -x "$VENV/bin/python" ]; then echo "$VENV/bin/python"; else command -v python3; fi
}

# pid_alive PIDFILE PATTERN: the recorded process exists and its command line matches.
pid_alive() {
    local f=$1 pat=$2 pid
    [ -f "$f" ] || return 1
    pid=$(head -n 1 "$f" 2>/dev/null || true)
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pat"
}

pg_running() {
    # postmaster.pid's first line is the postmaster PID; keep our pid file in sync with it.
    if [ -f "$PGDATA/postmaster.pid" ]; then
        head -n 1 "$PGDATA/postmaster.pid" >"$PG_PIDFILE.tmp" 2>/dev/null && mv "$PG_PIDFILE.tmp" "$PG_PIDFILE"
    fi
    pid_alive "$PG_PIDFILE" "-D $PGDATA "
}

s3_running() { pid_alive "$S3_PIDFILE" "moto_server"; }

pg_ready() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$1" -U postgres -d postgres -t 1 >/dev/null 2>&1; }

redis_running() { pid_alive "$REDIS_PIDFILE" "redis-server"; }

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; }

# The node's own name, so two checkouts' nodes never meet in the shared epmd.
rabbitmq_node() { echo "heimdall-$(path_slot)@localhost"; }

rabbitmq_running() { pid_alive "$RABBITMQ_PIDFILE" "-home $RABBITMQ_HOME "; }

# RabbitMQ opens its AMQP listener only once the broker has booted.
rabbitmq_ready() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

s3_ready() { curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null; }

# port_free PORT: nothing is bound to it on loopback (nor on the wildcard address).
port_free() {
    "$(pyexe)" - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

# pick_port BASE AVOID: first free port at or above BASE (stepping over 5432 and AVOID).
# The base is derived from the checkout path, so two checkouts start their search far
# apart and do not land on each other's ports even while the other one is down.
pick_port() {
    local base=$1 avoid=$2 p
    for ((p = base; p < base + 400; p++)); do
        [ "$p" -eq 5432 ] || [ "$p" -eq "$avoid" ] && continue
        if port_free "$p"; then echo "$p"; return 0; fi
    done
    die "no free port in $base..$((base + 400))"
}

path_slot() { printf '%s' "$ROOT" | cksum | awk '{print $1 % 500}'; }

# ensure_port NAME BASE AVOID RUNNING: reuse the recorded port; pick one the first time, or
# if the recorded one has been taken by some other process while our service is down.
ensure_port() {
    local name=$1 base=$2 avoid=$3 running=$4 f="$STATE/$1.port" p=""
    [ -f "$f" ] && p=$(cat "$f")
    if [[ "$p" =~ ^[0-9]+$ ]]; then
        if [ "$running" = yes ] || port_free "$p"; then echo "$p"; return 0; fi
        log "recorded $name port $p is taken by another process; picking a new one" >&2
    fi
    p=$(pick_port "$base" "$avoid")
    echo "$p" >"$f"
    echo "$p"
}

wait_for() { # wait_for SECONDS DESCRIPTION CMD...
    local secs=$1 what=$2; shift 2
    local deadline=$((SECONDS + secs))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# The Dagster instance's home: the repository's dagster.yaml, linked so edits take effect.
dagster_home() {
    mkdir -p "$STATE/dagster_home"
    ln -sfn "$ROOT/dagster.yaml" "$STATE/dagster_home/dagster.yaml"
}

write_env() {
    cat >"$ENVFILE.tmp" <<EOF
HEIMDALL_DATABASE_URL=$(role_url "$PIPELINE_ROLE")
HEIMDALL_MIGRATE_DATABASE_URL=$(role_url "$OWNER_ROLE")
HEIMDALL_READER_DATABASE_URL=$(role_url "$READER_ROLE")
HEIMDALL_ARCHIVER_DATABASE_URL=$(role_url "$ARCHIVER_ROLE")
HEIMDALL_TEST_ADMIN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres
DAGSTER_POSTGRES_URL=postgresql://$DAGSTER_ROLE:$DAGSTER_ROLE@127.0.0.1:$PG_PORT/dagster
DAGSTER_HOME=$STATE/dagster_home
HEIMDALL_S3_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
HEIMDALL_S3_BUCKET=$BUCKET
AWS_ACCESS_KEY_ID=$AWS_KEY
AWS_SECRET_ACCESS_KEY=$AWS_SECRET
AWS_REGION=$AWS_REGION_NAME
HEIMDALL_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
HEIMDALL_RABBITMQ_URL=amqp://guest:guest@127.0.0.1:$RABBITMQ_PORT//
HEIMDALL_CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:$RABBITMQ_PORT//
HEIMDALL_CELERY_RESULT_BACKEND=redis://127.0.0.1:$REDIS_PORT/1
EOF
    # The addresses `make serve` (scripts/serve.sh) wrote stay while its processes run.
    [ -f "$ENVFILE" ] && grep -E '^(HEIMDALL_DAGSTER_URL|HEIMDALL_CODE_SERVER_HOST|HEIMDALL_CODE_SERVER_PORT)=' "$ENVFILE" >>"$ENVFILE.tmp" || true
    mv "$ENVFILE.tmp" "$ENVFILE"
}

# mask_password URL: the URL with its password shown as *** (never print a real one).
mask_password() { printf '%s' "$1" | sed -E 's#^(([a-z0-9+]+://)?[^:/@]+):[^@]*@#\1:***@#'; }

env_value() { # env_value KEY -> value from .devstack/env (empty if absent)
    [ -f "$ENVFILE" ] && sed -n "s/^$1=//p" "$ENVFILE" | head -n 1 || true
}

# Both URLs set and not merely this checkout's own env file exported into the shell.
external_services() {
    [ -n "${HEIMDALL_DATABASE_URL:-}" ] && [ -n "${HEIMDALL_S3_ENDPOINT_URL:-}" ] || return 1
    [ "$HEIMDALL_DATABASE_URL" = "$(env_value HEIMDALL_DATABASE_URL)" ] \
        && [ "$HEIMDALL_S3_ENDPOINT_URL" = "$(env_value HEIMDALL_S3_ENDPOINT_URL)" ] && return 1
    return 0
}

# --- PostgreSQL / TimescaleDB --------------------------------------------------------------
pg_init() {
    [ -f "$PGDATA/PG_VERSION" ] && return 0
    log "initialising PostgreSQL cluster in $PGDATA"
    rm -rf "$PGDATA"
    mkdir -p "$PGDATA"
    chown "$PGUSER_OS": "$PGDATA"
    chmod 700 "$PGDATA"
    as_pg test -w "$PGDATA" \
        || die "user '$PGUSER_OS' cannot reach $PGDATA (a parent directory is not world-searchable?)"
    as_pg "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$STATE/initdb.log" 2>&1 \
        || as_pg "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres -E UTF8 --locale=C >"$STATE/initdb.log" 2>&1 \
        || { cat "$STATE/initdb.log" >&2; rm -rf "$PGDATA"; die "initdb failed"; }
    echo "include 'devstack.conf'" >>"$PGDATA/postgresql.conf"
}

pg_start() {
    mkdir -p "$PGSOCK"
    chown "$PGUSER_OS": "$PGSOCK"
    chmod 755 "$PGSOCK"
    # Unix socket paths are limited to 107 bytes; very deep checkouts fall back to /tmp.
    local sockdir="$PGSOCK"
    if [ $(( ${#sockdir} + 18 )) -gt 107 ]; then
        sockdir=$(mktemp -d /tmp/heimdall-pgsock.XXXXXX)
        chown "$PGUSER_OS": "$sockdir"
    fi
    echo "$sockdir" >"$STATE/pgsock.path"
    # Regenerated on every start, so a re-picked port takes effect.
    cat >"$PGDATA/devstack.conf" <<EOF
# written by scripts/devstack.sh; regenerated on every start
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sockdir'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
shared_buffers = 512MB
max_wal_size = 4GB
max_connections = 200
log_min_messages = warning
EOF
    chown "$PGUSER_OS": "$PGDATA/devstack.conf"
    # Lock files left by a crash are stale. Postgres itself only probes their PID with
    # kill(0), which succeeds for an unreaped zombie (containers whose PID 1 does not reap)
    # or an unrelated process that reused the PID, and then refuses to start.
    if [ -f "$PGDATA/postmaster.pid" ] && ! pid_alive "$PGDATA/postmaster.pid" "-D $PGDATA "; then
        rm -f "$PGDATA/postmaster.pid"
    fi
    if [ ! -f "$PGDATA/postmaster.pid" ]; then
        rm -f "$sockdir/.s.PGSQL.$PG_PORT.lock" "$sockdir/.s.PGSQL.$PG_PORT"
    fi
    touch "$PGLOG" && chown "$PGUSER_OS": "$PGLOG"
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 start >/dev/null; then
        tail -n 30 "$PGLOG" >&2
        die "PostgreSQL did not start (log: $PGLOG)"
    fi
    head -n 1 "$PGDATA/postmaster.pid" >"$PG_PIDFILE"
    wait_for 30 postgres pg_ready "$PG_PORT" || die "PostgreSQL is not accepting connections (log: $PGLOG)"
}

# The login roles, none of them SUPERUSER (docs/operating.md, "Database roles"); `postgres` stays the
# bootstrap superuser that creates them, the database and the extension. The passwords are local
# placeholders (the cluster trusts loopback anyway). The grants are heimdall-migrate's job, so
# they hold on any server, not only here.
OWNER_ROLE=heimdall_owner
PIPELINE_ROLE=heimdall_pipeline
READER_ROLE=heimdall_reader
ARCHIVER_ROLE=heimdall_archiver  # retention: the only role that writes archive records and drops days
DAGSTER_ROLE=heimdall_dagster  # owns the Dagster instance's database
DB_NAME=heimdall

role_url() { echo "postgresql://$1:$1@127.0.0.1:$PG_PORT/$DB_NAME"; }

pg_provision() {
    local sockdir
    sockdir=$(cat "$STATE/pgsock.path" 2>/dev/null || echo "$PGSOCK")
    local psql=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sockdir" -p "$PG_PORT" -U postgres)
    "${psql[@]}" -d postgres <<SQL >/dev/null
DO \$\$
DECLARE role_name TEXT;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['$OWNER_ROLE', '$PIPELINE_ROLE', '$READER_ROLE', '$ARCHIVER_ROLE', '$DAGSTER_ROLE'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', role_name, role_name);
        END IF;
    END LOOP;
END \$\$;
SELECT 'CREATE DATABASE $DB_NAME OWNER $OWNER_ROLE'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \gexec
-- The Dagster instance's own database (run, event-log and schedule storage), owned by its own
-- role: never the measurements database.
SELECT 'CREATE DATABASE dagster OWNER $DAGSTER_ROLE'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'dagster') \gexec
ALTER DATABASE dagster OWNER TO $DAGSTER_ROLE;
SQL
    # A stack provisioned before the roles existed has a SUPERUSER `heimdall` owning everything.
    # Its objects go to postgres (the extension's event triggers need a superuser owner), then the
    # database and the schema's own tables and functions to the owner role; the role is retired.
    "${psql[@]}" -d "$DB_NAME" <<SQL >/dev/null
SET client_min_messages = warning;
DO \$\$
DECLARE object_name TEXT;
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'heimdall') THEN
        REASSIGN OWNED BY heimdall TO postgres;
        DROP OWNED BY heimdall;
        ALTER DATABASE $DB_NAME OWNER TO $OWNER_ROLE;
        FOR object_name IN
            SELECT c.oid::regclass::text FROM pg_class c
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
              AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        LOOP
            EXECUTE format('ALTER TABLE %s OWNER TO $OWNER_ROLE', object_name);
        END LOOP;
        FOR object_name IN
            SELECT p.oid::regprocedure::text FROM pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace
              AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
        LOOP
            EXECUTE format('ALTER FUNCTION %s OWNER TO $OWNER_ROLE', object_name);
        END LOOP;
        BEGIN
            DROP ROLE heimdall;
        EXCEPTION WHEN dependent_objects_still_exist THEN
            ALTER ROLE heimdall NOLOGIN NOSUPERUSER;  -- still owns objects in another database
        END;
    END IF;
END \$\$;
REVOKE ALL ON DATABASE $DB_NAME FROM PUBLIC;
CREATE EXTENSION IF NOT EXISTS timescaledb;
SQL
}

# The schema is applied by the owner role, never by the runtime: `make test`, `make demo` and
# `make dev` find it ready. heimdall-migrate also (re)applies the roles' grants.
pg_migrate() {
    [ -x "$VENV/bin/heimdall-migrate" ] || die "$VENV/bin/heimdall-migrate not found; run 'make setup' first"
    env -u HEIMDALL_DATABASE_URL HEIMDALL_MIGRATE_DATABASE_URL="$(role_url "$OWNER_ROLE")" \
        HEIMDALL_PIPELINE_ROLE="$PIPELINE_ROLE" HEIMDALL_READER_ROLE="$READER_ROLE" HEIMDALL_ARCHIVER_ROLE="$ARCHIVER_ROLE" \
        "$VENV/bin/heimdall-migrate" | sed 's/^/devstack: migrate: /' \
        || die "heimdall-migrate failed"
}

# --- moto S3 -------------------------------------------------------------------------------
s3_start() {
    [ -x "$VENV/bin/moto_server" ] || die "$VENV/bin/moto_server not found; run 'make setup' first"
    log "starting moto S3 on 127.0.0.1:$S3_PORT"
    # The wrapper records its own PID and then execs moto_server, so the PID is exact.
    setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$S3_PIDFILE" \
        "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$S3LOG" 2>&1 </dev/null &
    wait_for 30 moto s3_ready "$S3_PORT" || { tail -n 30 "$S3LOG" >&2; die "moto did not answer (log: $S3LOG)"; }
}

s3_bucket() {
    # Fast path: HEAD on the bucket (moto does not check signatures).
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -I "http://127.0.0.1:$S3_PORT/$BUCKET" || true)
    [ "$code" = 200 ] && return 0
    "$VENV/bin/python" - "http://127.0.0.1:$S3_PORT" "$BUCKET" "$AWS_KEY" "$AWS_SECRET" "$AWS_REGION_NAME" <<'PY'
import sys
import boto3
from botocore.exceptions import ClientError

endpoint, bucket, key, secret, region = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key,
                  aws_secret_access_key=secret, region_name=region)
try:
    s3.create_bucket(Bucket=bucket)
except ClientError as e:
    if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
        raise
PY
}

# --- Redis (Celery's broker and result backend) ---------------------------------------------
redis_start() {
    "$ROOT/scripts/install_debian_package.sh" redis-server redis-server redis-cli
    log "starting Redis on 127.0.0.1:$REDIS_PORT"
    # A throwaway broker: no snapshots, no append-only file. The wrapper records its own PID and
    # then execs redis-server, so the PID is exact.
    setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$REDIS_PIDFILE" \
        redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --dir "$STATE" --daemonize no --loglevel warning >"$REDIS_LOG" 2>&1 </dev/null &
    wait_for 30 redis redis_ready "$REDIS_PORT" || { tail -n 30 "$REDIS_LOG" >&2; die "Redis did not answer (log: $REDIS_LOG)"; }
}

# --- RabbitMQ (Celery's broker, as in Heimdall) --------------------------------------------
# The node runs as whoever runs this script, with its state, cookie and logs in .devstack/rabbitmq.
# Its queues and persistent messages survive a restart, as a production broker's do.
rabbitmq_env() {
    mkdir -p "$RABBITMQ_HOME"
    [ -f "$RABBITMQ_HOME/enabled_plugins" ] || echo '[].' >"$RABBITMQ_HOME/enabled_plugins"
    export HOME="$RABBITMQ_HOME" RUNNING_UNDER_SYSTEMD=true \
        RABBITMQ_NODENAME="$(rabbitmq_node)" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT="$RABBITMQ_PORT" RABBITMQ_DIST_PORT="$RABBITMQ_DIST_PORT" \
        RABBITMQ_MNESIA_BASE="$RABBITMQ_HOME/mnesia" RABBITMQ_LOG_BASE="$RABBITMQ_HOME/log" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$RABBITMQ_HOME/enabled_plugins" \
        RABBITMQ_CONFIG_FILE="$RABBITMQ_HOME/rabbitmq" ERL_EPMD_ADDRESS=127.0.0.1
}

rabbitmq_start() {
    "$ROOT/scripts/install_debian_package.sh" rabbitmq-server /usr/lib/rabbitmq/bin/rabbitmq-server
    log "starting RabbitMQ on 127.0.0.1:$RABBITMQ_PORT"
    # RUNNING_UNDER_SYSTEMD makes the start script exec the VM, so the recorded PID is the broker's.
    (rabbitmq_env; setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$RABBITMQ_PIDFILE" \
        /usr/lib/rabbitmq/bin/rabbitmq-server >"$RABBITMQ_HOME/server.log" 2>&1 </dev/null &)
    wait_for 90 rabbitmq rabbitmq_ready "$RABBITMQ_PORT" \
        || { tail -n 30 "$RABBITMQ_HOME/server.log" >&2; die "RabbitMQ did not answer (log: $RABBITMQ_HOME/server.log)"; }
}

# --- subcommands ---------------------------------------------------------------------------
cmd_up() {
    mkdir -p "$STATE"
    dagster_home
    if external_services; then
        log "HEIMDALL_DATABASE_URL and HEIMDALL_S3_ENDPOINT_URL are set; using those services, provisioning nothing"
        return 0
    fi
    mkdir -p "$STATE"
    choose_pg_home
    chmod 755 "$STATE"   # the postgres user must be able to traverse it
    local pg_up=no s3_up=no redis_up=no rabbitmq_up=no
    pg_running && pg_up=yes
    s3_running && s3_up=yes
    redis_running && redis_up=yes
    rabbitmq_running && rabbitmq_up=yes
    local slot
    slot=$(path_slot)
    PG_PORT=$(ensure_port pg $((20000 + slot * 10)) 0 "$pg_up")
    S3_PORT=$(ensure_port s3 $((25000 + slot * 10)) "$PG_PORT" "$s3_up")
    # Below Linux's ephemeral range (32768+), where outgoing connections take ports at random.
    REDIS_PORT=$(ensure_port redis $((15000 + slot * 10)) "$PG_PORT" "$redis_up")
    RABBITMQ_PORT=$(ensure_port rabbitmq $((10000 + slot * 10)) "$PG_PORT" "$rabbitmq_up")
    RABBITMQ_DIST_PORT=$(ensure_port rabbitmq-dist $((10005 + slot * 10)) "$RABBITMQ_PORT" "$rabbitmq_up")

    if [ "$pg_up" = no ]; then
        rm -f "$PG_PIDFILE"
        "$ROOT/scripts/install_timescaledb.sh" "$STATE/timescaledb-src"
        pg_init
        pg_start
    else
        wait_for 30 postgres pg_ready "$PG_PORT" || die "PostgreSQL runs but does not accept connections (log: $PGLOG)"
    fi
    pg_provision

    if [ "$s3_up" = no ]; then
        rm -f "$S3_PIDFILE"
        s3_start
    else
        wait_for 30 moto s3_ready "$S3_PORT" || die "moto runs but does not answer (log: $S3LOG)"
    fi
    s3_bucket

    if [ "$redis_up" = no ]; then
        rm -f "$REDIS_PIDFILE"
        redis_start
    else
        wait_for 30 redis redis_ready "$REDIS_PORT" || die "Redis runs but does not answer (log: $REDIS_LOG)"
    fi

    if [ "$rabbitmq_up" = no ]; then
        rm -f "$RABBITMQ_PIDFILE"
        rabbitmq_start
    else
        wait_for 60 rabbitmq rabbitmq_ready "$RABBITMQ_PORT" || die "RabbitMQ runs but does not answer (log: $RABBITMQ_HOME/server.log)"
    fi

    write_env
    pg_migrate
    log "postgres  pid $(cat "$PG_PIDFILE")  127.0.0.1:$PG_PORT/$DB_NAME  roles $OWNER_ROLE (migrations), $PIPELINE_ROLE, $READER_ROLE, $ARCHIVER_ROLE"
    log "moto s3   pid $(cat "$S3_PIDFILE")  http://127.0.0.1:$S3_PORT  bucket $BUCKET"
    log "redis     pid $(cat "$REDIS_PIDFILE")  redis://127.0.0.1:$REDIS_PORT  (Celery results db 1; db 0 the tests' second broker)"
    log "rabbitmq  pid $(cat "$RABBITMQ_PIDFILE")  amqp://127.0.0.1:$RABBITMQ_PORT  (Celery broker)"
    log "dagster   instance in database 'dagster', DAGSTER_HOME=${STATE#"$ROOT"/}/dagster_home"
    log "env written to ${ENVFILE#"$ROOT"/}"
}

cmd_down() {
    if pg_running; then
        log "stopping PostgreSQL (pid $(cat "$PG_PIDFILE"))"
        as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null \
            || kill -TERM "$(cat "$PG_PIDFILE")" 2>/dev/null || true
    else
        log "PostgreSQL not running"
    fi
    rm -f "$PG_PIDFILE"
    if s3_running; then
        local pid
        pid=$(cat "$S3_PIDFILE")
        log "stopping moto S3 (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        wait_for 10 moto-exit bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
    else
        log "moto S3 not running"
    fi
    rm -f "$S3_PIDFILE"
    if redis_running; then
        local pid
        pid=$(cat "$REDIS_PIDFILE")
        log "stopping Redis (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        wait_for 10 redis-exit bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
    else
        log "Redis not running"
    fi
    rm -f "$REDIS_PIDFILE"
    if rabbitmq_running; then
        local pid
        pid=$(cat "$RABBITMQ_PIDFILE")
        log "stopping RabbitMQ (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        wait_for 30 rabbitmq-exit bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
        # The Erlang port mapper the node started: stopped once no node is registered with it.
        if command -v epmd >/dev/null && ! epmd -names 2>/dev/null | grep -q '^name '; then epmd -kill >/dev/null 2>&1 || true; fi
    else
        log "RabbitMQ not running"
    fi
    rm -f "$RABBITMQ_PIDFILE"
}

cmd_status() {
    if external_services; then
        log "using external services: $(mask_password "$HEIMDALL_DATABASE_URL"), $HEIMDALL_S3_ENDPOINT_URL"
        return 0
    fi
    local rc=0 port
    port=$(cat "$STATE/pg.port" 2>/dev/null || echo "?")
    if pg_running && pg_ready "$port"; then
        log "postgres  running  pid $(cat "$PG_PIDFILE")  127.0.0.1:$port"
    else
        log "postgres  not running"; rc=1
    fi
    port=$(cat "$STATE/s3.port" 2>/dev/null || echo "?")
    if s3_running && s3_ready "$port"; then
        log "moto s3   running  pid $(cat "$S3_PIDFILE")  127.0.0.1:$port"
    else
        log "moto s3   not running"; rc=1
    fi
    port=$(cat "$STATE/redis.port" 2>/dev/null || echo "?")
    if redis_running && redis_ready "$port"; then
        log "redis     running  pid $(cat "$REDIS_PIDFILE")  127.0.0.1:$port"
    else
        log "redis     not running"; rc=1
    fi
    port=$(cat "$STATE/rabbitmq.port" 2>/dev/null || echo "?")
    if rabbitmq_running && rabbitmq_ready "$port"; then
        log "rabbitmq  running  pid $(cat "$RABBITMQ_PIDFILE")  127.0.0.1:$port"
    else
        log "rabbitmq  not running"; rc=1
    fi
    return "$rc"
}

cmd_env() {
    [ -f "$ENVFILE" ] || die "$ENVFILE does not exist; run 'scripts/devstack.sh up'"
    cat "$ENVFILE"
}

cmd_clean() { # stop, then remove all local state, the cluster included wherever it lives
    cmd_down
    [ "$PG_HOME" != "$STATE" ] && rm -rf "$PG_HOME"
    rm -rf "$STATE"
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    clean) cmd_clean ;;
    *) echo "usage: $0 {up|down|status|env|clean}" >&2; exit 2 ;;
esac
