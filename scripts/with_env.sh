#!/usr/bin/env bash
# Runs CMD with the local stack's settings from .devstack/env exported.
# If HEIMDALL_DATABASE_URL is already set in the environment, the user's environment wins
# and the file is not read at all (so dummy credentials never mix with real services).
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
envfile="$root/.devstack/env"

if [ -z "${HEIMDALL_DATABASE_URL:-}" ]; then
    if [ -f "$envfile" ]; then
        set -a
        # shellcheck disable=SC1090
        . "$envfile"
        set +a
    else
        echo "with_env: $envfile missing and HEIMDALL_DATABASE_URL unset; run 'make up'" >&2
    fi
fi
exec "$@"
