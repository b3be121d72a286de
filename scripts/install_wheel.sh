#!/usr/bin/env bash
# The one way heimdall-pipeline is installed outside a checkout. The Dockerfile and the wheel test
# (heimdall_pipeline_tests/test_wheel.py) run these very commands.
#
#   scripts/install_wheel.sh build DIST          build the package's wheel (SQL included) into DIST
#   scripts/install_wheel.sh install DIST VENV [EXTRAS]
#                                                create the virtualenv VENV (if missing) and install
#                                                that wheel with its dependencies from PyPI, and the
#                                                optional dependencies EXTRAS names (e.g. worker)
#
# PYTHON picks the interpreter for `build` and for creating VENV (default python3; 3.11 or 3.12).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}

usage() { echo "usage: $0 build DIST | install DIST VENV [EXTRAS]" >&2; exit 2; }

case "${1:-}" in
    build)
        [ $# -eq 2 ] || usage
        # setuptools' scratch directory: files left there from an earlier build (a deleted SQL
        # file, say) would go into the wheel.
        rm -rf "$ROOT/build"
        "$PYTHON" -m pip wheel --no-deps --wheel-dir "$2" "$ROOT"
        ;;
    install)
        [ $# -eq 3 ] || [ $# -eq 4 ] || usage
        dist=$2 venv=$3 extras=${4:-}
        wheels=("$dist"/heimdall_pipeline-*.whl)
        [ -f "${wheels[0]}" ] || { echo "install_wheel: no heimdall_pipeline wheel in $dist" >&2; exit 1; }
        [ ${#wheels[@]} -eq 1 ] || { echo "install_wheel: several heimdall_pipeline wheels in $dist" >&2; exit 1; }
        [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
        "$venv/bin/python" -m pip install "${wheels[0]}${extras:+[$extras]}"
        ;;
    *) usage ;;
esac
