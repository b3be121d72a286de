#!/usr/bin/env bash
# Installs Debian's rabbitmq-server (Heimdall's Celery broker, AMQP) when it is missing.
# Idempotent: an installed server costs one `test -x`, and apt runs only the first time.
set -euo pipefail

RABBITMQ_SERVER=${RABBITMQ_SERVER:-/usr/lib/rabbitmq/bin/rabbitmq-server}

if [ -x "$RABBITMQ_SERVER" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "rabbitmq: rabbitmq-server is not installed; install Debian's package as root: apt-get install rabbitmq-server" >&2
    exit 1
fi
echo "rabbitmq: installing Debian's rabbitmq-server"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
# devstack.sh runs its own node on loopback ports; where policy-rc.d lets Debian start the
# package's service on 5672, nothing here uses it.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server >"$log" 2>&1 \
    || { cat "$log" >&2; exit 1; }
echo "rabbitmq: installed $(dpkg-query -W -f '${Version}' rabbitmq-server)"
