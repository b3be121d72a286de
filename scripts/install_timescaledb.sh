#!/usr/bin/env bash
# Builds and installs the Apache-licensed TimescaleDB for the local PostgreSQL 15.
# Debian 12 has no timescaledb package, so the source comes from Debian 13 (trixie)
# through a private apt configuration that never touches the system's sources.
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
WORK_DIR=${1:-.devstack/timescaledb-src}

if [ -x "$PG_CONFIG" ] && [ -f "$("$PG_CONFIG" --pkglibdir)/timescaledb.so" ]; then
    echo "timescaledb: already installed for $("$PG_CONFIG" --version)"
    exit 0
fi

needed=()
for pkg in postgresql postgresql-server-dev-15 cmake libssl-dev gcc make xz-utils; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || needed+=("$pkg")
done
if [ ${#needed[@]} -gt 0 ]; then
    echo "timescaledb: installing build dependencies: ${needed[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}" >/dev/null
fi

mkdir -p "$WORK_DIR/lists/partial"
WORK_DIR=$(cd "$WORK_DIR" && pwd)
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
echo "deb-src $mirror trixie main" > "$WORK_DIR/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$WORK_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$WORK_DIR/lists" -o Acquire::Languages=none)

cd "$WORK_DIR"
if ! ls timescaledb_*.orig.tar.xz >/dev/null 2>&1; then
    echo "timescaledb: downloading the Debian 13 source package"
    apt-get "${apt_opts[@]}" update -qq
    apt-get "${apt_opts[@]}" source --download-only timescaledb >/dev/null
fi
tarball=$(ls timescaledb_*.orig.tar.xz | head -n 1)
rm -rf build-tree && mkdir build-tree
tar -xJf "$tarball" -C build-tree --strip-components=1
cd build-tree
echo "timescaledb: building $tarball (Apache edition)"
./bootstrap -DCMAKE_BUILD_TYPE=Release -DPG_CONFIG="$PG_CONFIG" -DAPACHE_ONLY=1 \
    -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DUSE_TELEMETRY=OFF -DSEND_TELEMETRY_DEFAULT=OFF \
    -DWARNINGS_AS_ERRORS=OFF >build.log 2>&1 || { tail -n 40 build.log; exit 1; }
make -C build -j"$(nproc)" install >>build.log 2>&1 || { tail -n 40 build.log; exit 1; }
echo "timescaledb: installed into $("$PG_CONFIG" --pkglibdir)"
