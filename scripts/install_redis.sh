#!/usr/bin/env bash
# Installs Debian's redis-server (the local Celery broker and result backend) when it is missing.
# Idempotent: an installed redis-server costs one `command -v`, and apt runs only the first time.
set -euo pipefail

REDIS_SERVER=${REDIS_SERVER:-redis-server}

if command -v "$REDIS_SERVER" >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "redis: redis-server is not installed; install Debian's package as root: apt-get install redis-server" >&2
    exit 1
fi
echo "redis: installing Debian's redis-server"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
# The package's own service is not wanted (devstack.sh runs its own server on a loopback port);
# where policy-rc.d allows it, Debian starts it on 6379, which nothing here uses.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >"$log" 2>&1 \
    || { cat "$log" >&2; exit 1; }
echo "redis: installed $("$REDIS_SERVER" --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"
