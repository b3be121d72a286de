#!/usr/bin/env bash
# Installs a Debian package the local stack runs (redis-server, rabbitmq-server) when it is missing.
#
#   scripts/install_debian_package.sh PACKAGE PROGRAM...
#
# Idempotent: when every PROGRAM (a command name or an absolute path) is there, it costs a lookup,
# and apt runs only the first time. devstack.sh runs its own servers on loopback ports; where
# policy-rc.d lets Debian start the package's own service on its default port, nothing here uses it.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 PACKAGE PROGRAM..." >&2; exit 2; }
package=$1
shift
present() { [ -x "$1" ] || command -v "$1" >/dev/null 2>&1; }

missing=no
for program in "$@"; do present "$program" || missing=yes; done
[ "$missing" = no ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "$package: not installed; install Debian's package as root: apt-get install $package" >&2
    exit 1
fi
echo "$package: installing Debian's $package"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >"$log" 2>&1 \
    || { cat "$log" >&2; exit 1; }
echo "$package: installed $(dpkg-query -W -f '${Version}' "$package")"
