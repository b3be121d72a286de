"""The receiver list over time: `websdr_station_versions` and its change log, synced by
`heimdall-stations` from the operator's file (YAML or CSV) or from Heimdall's own table.

Heimdall numbers its receivers by enumerating its ACTIVE stations ordered by name (1, 2, ...): when
a station is deactivated the ids after it shift down by one. Every source is numbered that way; the
order of a file's entries does not matter. Names sort in code-point order (PostgreSQL's "C"
collation), which is what Heimdall's stock database gives its `ORDER BY name` (timescale/timescaledb
is Alpine, whose en_US.utf8 compares text byte by byte); read from Heimdall's table, the order is
the one Heimdall's database gives, whatever its collation. A file may also state `websdr_id` per
station (Heimdall's receivers.csv does): then it must equal the computed id, so a list that does not
number as Heimdall does is refused, not guessed.

A station's identity is its `key` (default: its name, lower-cased, runs of other characters made
'-'): it stays the same through renumbering and edits, and reports group by it.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import io
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import psycopg

from heimdall_pipeline.core.db import connect, scalar
from heimdall_pipeline.schema.heimdall_stations import (
    HEIMDALL_TABLE,
    HeimdallStations,
    HeimdallTableError,
    read_heimdall_stations,
)

# Compared (and shown) in this order; `websdr_id` and `active` are changes of their own kinds.
STATION_FIELDS = ("name", "url", "location", "latitude", "longitude", "bands", "timeout_seconds", "retry_count")
DEFAULT_TIMEOUT_SECONDS = 30
DEFAULT_RETRY_COUNT = 3
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_BAND = re.compile(r"^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$")
# The file's field names; the aliases are Heimdall's receivers.csv column names.
_ALIASES = {"location_name": "location", "bands_mhz": "bands", "is_active": "active"}
_FILE_FIELDS = {"key", "websdr_id", "active", *STATION_FIELDS}
_REQUIRED = ("name", "url", "location", "latitude", "longitude", "bands")
_HEIMDALL_REQUIRED = tuple(name for name in _REQUIRED if name != "bands")  # Heimdall's table has none
# One sync at a time: the ids are computed from the whole list.
_SYNC_LOCK = "heimdall-stations sync"
# A station list is a few kilobytes for a handful of receivers: anything far past that is not one.
MAX_FILE_BYTES = 1024 * 1024
MAX_STATIONS = 1_000
MAX_YAML_DEPTH = 20
MAX_TEXT_CHARS = {"name": 200, "url": 2_048, "location": 200, "key": 100}
MAX_TIMEOUT_SECONDS = 3_600
MAX_RETRY_COUNT = 100
# When a change may take effect: Heimdall's history starts after 2000, and planning ahead stays within a year.
EARLIEST_EFFECTIVE = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_EFFECTIVE_AHEAD = timedelta(days=366)


class StationFileError(ValueError):
    """The file cannot be read as a station list; the message names the file and the entry."""


class StationSyncError(RuntimeError):
    """The file is valid but cannot be applied (e.g. an effective time before the last change)."""


@dataclass(frozen=True)
class Station:
    """One station as the file describes it (and as one version in the table holds it)."""

    key: str
    name: str
    url: str
    location: str
    latitude: float
    longitude: float
    bands: tuple[str, ...]
    active: bool
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    retry_count: int = DEFAULT_RETRY_COUNT
    websdr_id: int | None = None  # Heimdall's number: position among the active stations by name


@dataclass(frozen=True)
class Change:
    kind: str  # added, removed, deactivated, reactivated, renumbered, edited
    station_key: str
    name: str
    websdr_id_before: int | None
    websdr_id_after: int | None
    details: dict = field(default_factory=dict)

    def describe(self) -> str:
        ids = _ids(self.websdr_id_before, self.websdr_id_after)
        if self.kind == "edited":
            what = "; ".join(f"{name}: {before!r} -> {after!r}" for name, (before, after) in self.details.items())
            return f"edited       {self.name} [{self.station_key}] {ids}: {what}"
        return f"{self.kind:<12} {self.name} [{self.station_key}] {ids}"


def _ids(before: int | None, after: int | None) -> str:
    shown = lambda value: "-" if value is None else str(value)  # noqa: E731
    return f"websdr {shown(before)}" if before == after else f"websdr {shown(before)} -> {shown(after)}"


def station_key(name: str) -> str:
    """The default key of a station: its name lower-cased, other characters made '-' (as 0016 did)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# --- the file ----------------------------------------------------------------------------------


def load_station_file(path: str | os.PathLike) -> list[Station]:
    """The stations of a `.yaml`/`.yml` or `.csv` file, numbered (number_stations)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".csv"):
        raise StationFileError(f"{path}: unknown file type {suffix or '(none)'}: use .yaml, .yml or .csv")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise StationFileError(f"{path}: {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit of a station list")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise StationFileError(f"{path}: cannot read the file: {reason}") from None
    entries = _csv_entries(path, text) if suffix == ".csv" else _yaml_entries(path, text)
    if len(entries) > MAX_STATIONS:
        raise StationFileError(f"{path}: {len(entries):,} stations, over the limit of {MAX_STATIONS:,}")
    return number_stations(path, [_station(path, where, entry) for where, entry in entries])


def _strict_yaml_loader():
    """yaml.SafeLoader without aliases (a billion laughs grows 1.6 KB into gigabytes), nested at most
    MAX_YAML_DEPTH deep, and refusing a key given twice in one mapping (PyYAML keeps the last)."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise yaml.constructor.ConstructorError(
                    None, None, "aliases (*name) are not allowed", self.peek_event().start_mark
                )
            self.depth += 1
            try:
                if self.depth > MAX_YAML_DEPTH:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"nested more than {MAX_YAML_DEPTH} deep", self.peek_event().start_mark
                    )
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, str) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"field {key!r} given twice in one mapping", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def _yaml_entries(path: Path, text: str) -> list[tuple[str, dict]]:
    import yaml

    try:
        document = yaml.load(text, Loader=_strict_yaml_loader())  # a SafeLoader, stricter still
    except yaml.YAMLError as error:
        raise StationFileError(f"{path}: not valid YAML: {' '.join(str(error).split())[:300]}") from None
    except RecursionError:
        raise StationFileError(f"{path}: not valid YAML: nested too deep") from None
    if not isinstance(document, dict) or not isinstance(document.get("stations"), list):
        raise StationFileError(f"{path}: expected a mapping with a list under 'stations:'")
    unknown = set(document) - {"stations"}
    if unknown:
        raise StationFileError(f"{path}: unknown top-level field(s): {', '.join(sorted(map(str, unknown)))}")
    entries = []
    for number, entry in enumerate(document["stations"], start=1):
        if not isinstance(entry, dict):
            raise StationFileError(f"{path}: station {number}: expected a mapping of fields, got {entry!r}")
        entries.append((f"station {number}", entry))
    return entries


def _csv_entries(path: Path, text: str) -> list[tuple[str, dict]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise StationFileError(f"{path}: the CSV file has no header line")
    entries: list[tuple[str, dict]] = []
    try:
        for row in reader:
            if None in row:
                raise StationFileError(f"{path}: line {reader.line_num}: more values than header columns")
            if len(entries) >= MAX_STATIONS:
                raise StationFileError(f"{path}: more than {MAX_STATIONS:,} stations")
            # Empty cells are absent values; bands are ';'-separated, as in Heimdall's receivers.csv.
            entry = {name: value for name, value in row.items() if value is not None and value.strip() != ""}
            entries.append((f"line {reader.line_num}", entry))
    except csv.Error as error:  # e.g. a field over the csv module's 128 KB limit
        raise StationFileError(f"{path}: line {reader.line_num}: not valid CSV: {str(error)[:200]}") from None
    return entries


def _station(path: Path | str, where: str, entry: dict, required: Sequence[str] = _REQUIRED) -> Station:
    def fail(message: str) -> StationFileError:
        name = entry.get("name")
        # Shown as text a terminal can print: a lone surrogate or a NUL in the name is escaped, a long one cut.
        shown = (
            name[:80].encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")
            if isinstance(name, str)
            else None
        )
        return StationFileError(f"{path}: {where}{f' ({shown})' if shown is not None else ''}: {message}")

    values = {}
    for raw_name, value in entry.items():
        name = _ALIASES.get(str(raw_name), str(raw_name))
        if name not in _FILE_FIELDS:
            raise fail(f"unknown field {raw_name!r} (fields: {', '.join(sorted(_FILE_FIELDS))})")
        if name in values:
            raise fail(f"field {name!r} given twice")
        values[name] = value
    missing = [name for name in required if values.get(name) in (None, "")]
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    text = {name: _text(fail, name, values[name]) for name in ("name", "url", "location")}
    if not re.match(r"^https?://[^/\s]+", text["url"]):
        raise fail(f"url must be an http:// or https:// URL, got {text['url']!r}")
    key = _text(fail, "key", values["key"]) if "key" in values else station_key(text["name"])
    if not _KEY.match(key):
        raise fail(f"key must be lower-case letters, digits and '-', got {key!r}")
    latitude = _number(fail, "latitude", values["latitude"], -90, 90)
    longitude = _number(fail, "longitude", values["longitude"], -180, 180)
    return Station(
        key=key,
        name=text["name"],
        url=text["url"],
        location=text["location"],
        latitude=latitude,
        longitude=longitude,
        bands=_bands(fail, values["bands"]) if "bands" in values else (),
        active=_boolean(fail, values.get("active", True)),
        timeout_seconds=_integer(
            fail, "timeout_seconds", values.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS), 1, MAX_TIMEOUT_SECONDS
        ),
        retry_count=_integer(fail, "retry_count", values.get("retry_count", DEFAULT_RETRY_COUNT), 0, MAX_RETRY_COUNT),
        websdr_id=(
            _integer(fail, "websdr_id", values["websdr_id"], 1, MAX_STATIONS) if values.get("websdr_id") is not None else None
        ),
    )


def _text(fail, name: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{name} must be a non-empty text, got {repr(value)[:80]}")
    limit = MAX_TEXT_CHARS.get(name, 200)
    if len(value) > limit:
        raise fail(f"{name} has {len(value):,} characters, over {limit:,}")
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise fail(f"{name} holds a NUL or a lone surrogate, which the database cannot store")
    return value.strip()


def _number(fail, name: str, value, low: float, high: float) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise fail(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(number) and low <= number <= high):
        raise fail(f"{name} must be within {low:g}..{high:g}, got {value!r}")
    return number


def _integer(fail, name: str, value, low: int, high: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,12}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(f"{name} must be a whole number, got {repr(value)[:80]}")
    if not low <= value <= high:
        raise fail(f"{name} must be from {low} to {high}, got {value}")
    return value


def _boolean(fail, value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    raise fail(f"active must be true or false, got {value!r}")


def _bands(fail, value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(";")]
    if not isinstance(value, list) or not value:
        raise fail(f"bands must be a list of 'low-high' MHz ranges, e.g. [144-146, 430-440], got {value!r}")
    bands = []
    for band in value:
        match = _BAND.match(str(band).strip())
        if not match or float(match[1]) >= float(match[2]):
            raise fail(f"band {band!r} is not a 'low-high' MHz range with low < high, e.g. 144-146")
        bands.append(str(band).strip())
    return tuple(bands)


def by_name(station: Station) -> str:
    """Heimdall's order: by name, in code-point order (PostgreSQL's "C" collation; module docstring)."""
    return station.name


def number_stations(source: str | os.PathLike, stations: Sequence[Station], *, in_heimdalls_order: bool = False) -> list[Station]:
    """The stations in name order, each active one with Heimdall's id: its position among the active
    stations in that order. Name order is by_name, or with in_heimdalls_order the order the
    stations come in (as Heimdall's database sorted them, by its collation). Checks that ids the
    source states agree, and that keys and names are unique."""
    if not stations:
        raise StationFileError(f"{source}: no stations listed")
    for attribute in ("key", "name"):
        seen: set[str] = set()
        for station in stations:
            value = getattr(station, attribute)
            if value in seen:
                raise StationFileError(f"{source}: two stations share the {attribute} {value!r}")
            seen.add(value)
    numbered = []
    position = 0
    for station in stations if in_heimdalls_order else sorted(stations, key=by_name):
        websdr_id = None
        if station.active:
            position += 1
            websdr_id = position
        if station.websdr_id is not None and station.websdr_id != websdr_id:
            expected = f"is {websdr_id}" if websdr_id else "is none (the station is inactive)"
            raise StationFileError(
                f"{source}: {station.name} [{station.key}] states websdr_id {station.websdr_id}, but its number in "
                f"Heimdall's numbering (position among the active stations ordered by name) {expected}"
            )
        numbered.append(replace(station, websdr_id=websdr_id))
    if position == 0:
        raise StationFileError(f"{source}: no station is active")
    return numbered


def from_heimdall(heimdall: HeimdallStations, current: Sequence[Station]) -> list[Station]:
    """Heimdall's rows as the station list, numbered in the order Heimdall's database gave them.
    Heimdall's table has no station key and no bands: a station keeps the key and bands of the
    current version with its name; one new to the list gets its name's key and no bands."""
    known = {station.name: station for station in current}
    stations = []
    for row in heimdall.rows:
        name = row["name"]
        before = known.get(name)
        # Heimdall's own fallbacks (get_websdrs_config() uses `or`: '' and 0 fall back too).
        entry = {
            "name": name,
            "url": row["url"],
            "location": row.get("location_description") or f"{name}, {row.get('country') or 'Italy'}",
            "latitude": row["latitude"],
            "longitude": row["longitude"],
            "active": row["is_active"] is True,
            "timeout_seconds": row.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS,
            "retry_count": row.get("retry_count") or DEFAULT_RETRY_COUNT,
        }
        if before is not None:
            entry.update(key=before.key, **({"bands": list(before.bands)} if before.bands else {}))
        stations.append(_station(heimdall.source, f"station {row['id']}", entry, _HEIMDALL_REQUIRED))
    return number_stations(heimdall.source, stations, in_heimdalls_order=True)


# --- the changes ------------------------------------------------------------------------------


def plan_changes(current: Sequence[Station], desired: Sequence[Station]) -> list[Change]:
    """What turns the current list (the open versions) into the desired one, per station and kind,
    in the desired list's order, removals last. Empty when they agree (the sync is idempotent)."""
    now = {station.key: station for station in current}
    changes: list[Change] = []
    for station in desired:
        before = now.get(station.key)
        if before is None:
            changes.append(Change("added", station.key, station.name, None, station.websdr_id, {"active": station.active}))
            continue
        if before.active != station.active:
            kind = "deactivated" if before.active else "reactivated"
            changes.append(Change(kind, station.key, station.name, before.websdr_id, station.websdr_id))
        elif before.websdr_id != station.websdr_id:
            changes.append(Change("renumbered", station.key, station.name, before.websdr_id, station.websdr_id))
        edited = {
            name: [_plain(getattr(before, name)), _plain(getattr(station, name))]
            for name in STATION_FIELDS
            if getattr(before, name) != getattr(station, name)
        }
        if edited:
            changes.append(Change("edited", station.key, station.name, before.websdr_id, station.websdr_id, edited))
    wanted = {station.key for station in desired}
    for station in current:
        if station.key not in wanted:
            changes.append(Change("removed", station.key, station.name, station.websdr_id, None))
    return changes


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


# --- the database -----------------------------------------------------------------------------

_VERSION_COLUMNS = "station_key, name, url, location, latitude, longitude, bands, active, timeout_seconds, retry_count, websdr_id"


def _as_station(row) -> Station:
    key, name, url, location, latitude, longitude, bands, active, timeout_seconds, retry_count, websdr_id = row
    return Station(key, name, url, location, latitude, longitude, tuple(bands), active, timeout_seconds, retry_count, websdr_id)


# -infinity (the first version's start) has no Python datetime: read as NULL, shown as None.
_FINITE_FROM = "nullif(lower(valid_during), '-infinity')"


@dataclass(frozen=True)
class StationVersion:
    station: Station
    valid_from: datetime | None  # None: since the start (the first version)
    valid_to: datetime | None  # None: still valid


def stations_at(conn: psycopg.Connection, at: datetime | None = None) -> list[StationVersion]:
    """Every station's version valid at `at` (default: now), active ones by id, then inactive by name."""
    rows = conn.execute(
        f"""
        SELECT {_VERSION_COLUMNS}, {_FINITE_FROM}, nullif(upper(valid_during), 'infinity')
        FROM websdr_station_versions
        WHERE valid_during @> coalesce(%(at)s, now())
        ORDER BY websdr_id NULLS LAST, name
        """,
        {"at": at},
    ).fetchall()
    return [StationVersion(_as_station(row[:11]), row[11], row[12]) for row in rows]


@dataclass(frozen=True)
class SyncResult:
    changes: list[Change]
    effective_at: datetime
    written: bool  # False for a dry run, or when there was nothing to change


def sync_stations(
    conn: psycopg.Connection,
    desired: Sequence[Station] | Callable[[list[Station]], list[Station]],
    *,
    effective_at: datetime,
    recorded_by: str,
    source: str,
    dry_run: bool = False,
) -> SyncResult:
    """Make the open versions match `desired` from `effective_at` on, in one transaction: close each
    changed station's version there, open its new one, log each change. A dry run rolls back.
    `desired` may be a function of the open versions (from_heimdall keeps their keys and bands)."""
    if effective_at.tzinfo is None:
        raise StationSyncError("the effective time must be timezone-aware")
    latest = datetime.now(UTC) + LATEST_EFFECTIVE_AHEAD
    if not EARLIEST_EFFECTIVE <= effective_at <= latest:
        # A far date was written, then crashed every later show/log/sync, or refused every later sync.
        raise StationSyncError(
            f"effective time {effective_at.isoformat()} is outside {EARLIEST_EFFECTIVE.date()} .. {latest.date()} "
            "(a year ahead at most)"
        )

    class _DryRun(Exception):
        pass

    result = None
    try:
        with conn.transaction():
            # Serialises syncs (readers are not blocked): the ids come from the whole list.
            conn.execute("LOCK TABLE websdr_station_versions IN SHARE ROW EXCLUSIVE MODE")
            rows = conn.execute(
                f"SELECT {_VERSION_COLUMNS}, {_FINITE_FROM} FROM websdr_station_versions "
                "WHERE upper(valid_during) = 'infinity' ORDER BY websdr_id NULLS LAST, station_key"
            ).fetchall()
            current = [_as_station(row[:11]) for row in rows]
            if callable(desired):
                desired = desired(current)
            changes = plan_changes(current, desired)
            changed_keys = {change.station_key for change in changes}
            # The ids come from the whole list, so a change may not reach back before the list's
            # last change (any station's): that would rewrite what the ids meant since.
            last_change = scalar(
                conn.execute(
                    "SELECT greatest(max(nullif(lower(valid_during), '-infinity')), "
                    "max(nullif(upper(valid_during), 'infinity'))) FROM websdr_station_versions"
                )
            )
            if changes and last_change is not None and effective_at <= last_change:
                raise StationSyncError(
                    f"effective time {effective_at.isoformat()} is not after the list's last change "
                    f"({last_change.isoformat()}): history is not rewritten; give a later --effective-at"
                )
            _apply(conn, changes, desired, changed_keys, effective_at, recorded_by, source)
            result = SyncResult(changes, effective_at, written=bool(changes) and not dry_run)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    assert result is not None  # set before the dry run's rollback, or the sync returned
    return result


def _apply(conn, changes, desired, changed_keys, effective_at, recorded_by, source) -> None:
    if not changes:
        return
    # Close first, then open: within the statement order the exclusion constraints see no overlap.
    conn.execute(
        "UPDATE websdr_station_versions SET valid_during = tstzrange(lower(valid_during), %(at)s, '[)') "
        "WHERE upper(valid_during) = 'infinity' AND station_key = ANY(%(keys)s)",
        {"at": effective_at, "keys": sorted(changed_keys)},
    )
    for station in desired:
        if station.key not in changed_keys:
            continue
        conn.execute(
            f"""
            INSERT INTO websdr_station_versions ({_VERSION_COLUMNS}, valid_during)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, tstzrange(%s, 'infinity', '[)'))
            """,
            (
                station.key,
                station.name,
                station.url,
                station.location,
                station.latitude,
                station.longitude,
                list(station.bands),
                station.active,
                station.timeout_seconds,
                station.retry_count,
                station.websdr_id,
                effective_at,
            ),
        )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO websdr_station_changes (effective_at, recorded_by, source, change, station_key, "
            "websdr_id_before, websdr_id_after, details) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
            [
                (
                    effective_at,
                    recorded_by,
                    source,
                    change.kind,
                    change.station_key,
                    change.websdr_id_before,
                    change.websdr_id_after,
                    json.dumps({"name": change.name, **change.details}),
                )
                for change in changes
            ],
        )


@dataclass(frozen=True)
class LoggedChange:
    effective_at: datetime | None  # None: -infinity, the first version
    recorded_at: datetime
    recorded_by: str
    database_role: str
    source: str
    change: str
    station_key: str
    websdr_id_before: int | None
    websdr_id_after: int | None
    details: dict


def change_log(conn: psycopg.Connection) -> list[LoggedChange]:
    names = ", ".join("nullif(effective_at, '-infinity')" if f.name == "effective_at" else f.name for f in fields(LoggedChange))
    rows = conn.execute(f"SELECT {names} FROM websdr_station_changes ORDER BY effective_at, change_id").fetchall()
    return [LoggedChange(*row) for row in rows]


# --- the command ------------------------------------------------------------------------------


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text[:60]!r} (e.g. 2026-11-29T10:00:00Z)") from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-05:00 is past year 9999 in UTC: no database holds it
        raise argparse.ArgumentTypeError(f"{text[:60]!r} is outside any plausible effective time") from None


def _database_url(argument: str | None) -> str:
    from heimdall_pipeline.core.settings import MigrateSettings

    environ = dict(os.environ)
    if argument:
        environ["HEIMDALL_MIGRATE_DATABASE_URL"] = argument
    return MigrateSettings.from_env(environ).database_url


def _print_stations(versions: Sequence[StationVersion], at: datetime | None) -> None:
    print(f"stations valid at {(at or datetime.now(UTC)).isoformat()}:")
    print(f"{'id':>3}  {'key':<20} {'name':<20} {'location':<24} {'bands':<18} valid from")
    for version in versions:
        station = version.station
        shown_id = "-" if station.websdr_id is None else str(station.websdr_id)
        since = "the start" if version.valid_from is None else version.valid_from.isoformat()
        print(
            f"{shown_id:>3}  {station.key:<20} {station.name:<20} {station.location:<24} "
            f"{','.join(station.bands):<18} {since}{'' if station.active else '  (inactive)'}"
        )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no login name (a container's numeric uid): the database role is logged anyway
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    from heimdall_pipeline.core.db import DatabaseConnectionError
    from heimdall_pipeline.core.settings import exit_on_config_error, postgres_url

    parser = argparse.ArgumentParser(
        prog="heimdall-stations",
        description="The WebSDR receiver list over time: sync it from the operator's file or Heimdall's table, "
        "show it at a time.",
    )
    parser.add_argument(
        "--database-url",
        help="libpq URL (default: $HEIMDALL_MIGRATE_DATABASE_URL, the owner role, else $HEIMDALL_DATABASE_URL); "
        "sync needs the owner, show and log any role",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="make the list match the file (YAML or CSV) or Heimdall's table, logging each change")
    origin = sync.add_mutually_exclusive_group(required=True)
    origin.add_argument("file", nargs="?", help="the station list, e.g. config/websdr_stations.yaml")
    origin.add_argument(
        "--from-heimdall-db",
        metavar="URL",
        help="read the stations from Heimdall's database instead (read-only; a password is best in ~/.pgpass, not the URL)",
    )
    sync.add_argument(
        "--heimdall-table", default=HEIMDALL_TABLE, help=f"Heimdall's station table, schema.table (default {HEIMDALL_TABLE})"
    )
    sync.add_argument("--effective-at", type=_parse_time, help="when the change took effect (ISO 8601; default now)")
    sync.add_argument("--by", help="who makes the change, for the change log (default: the OS user)")
    sync.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
    show = commands.add_parser("show", help="the stations valid at a time, with their ids")
    show.add_argument("--at", type=_parse_time, help="ISO 8601 time (default now)")
    commands.add_parser("log", help="the change log, oldest first")
    args = parser.parse_args(argv)

    with exit_on_config_error("heimdall-stations"):
        database_url = _database_url(args.database_url)
        heimdall_url = getattr(args, "from_heimdall_db", None)
        if heimdall_url is not None:
            heimdall_url = postgres_url({"--from-heimdall-db": heimdall_url}, "--from-heimdall-db")
    desired: list[Station] | Callable[[list[Station]], list[Station]]
    try:
        if args.command == "sync":
            if heimdall_url is not None:
                heimdall = read_heimdall_stations(heimdall_url, args.heimdall_table)
                desired, source, shown = partial(from_heimdall, heimdall), heimdall.source, heimdall.source
            else:
                desired, source, shown = load_station_file(args.file), os.path.basename(args.file), args.file
            with connect(database_url) as conn:
                result = sync_stations(
                    conn,
                    desired,
                    effective_at=args.effective_at or datetime.now(UTC),
                    recorded_by=args.by or _os_user(),
                    source=source,
                    dry_run=args.dry_run,
                )
            if not result.changes:
                print(f"no changes: the station list already matches {shown}")
                return 0
            print(f"changes effective {result.effective_at.isoformat()}:")
            for change in result.changes:
                print(f"  {change.describe()}")
            print(f"{len(result.changes)} change(s) " + ("written" if result.written else "(dry run: nothing written)"))
        elif args.command == "show":
            with connect(database_url) as conn:
                _print_stations(stations_at(conn, args.at), args.at)
        else:
            with connect(database_url) as conn:
                for entry in change_log(conn):
                    when = "the start" if entry.effective_at is None else entry.effective_at.isoformat()
                    print(
                        f"{when}  {entry.change:<12} [{entry.station_key}] "
                        f"{_ids(entry.websdr_id_before, entry.websdr_id_after)}  "
                        f"by {entry.recorded_by} ({entry.database_role}) from {entry.source} "
                        f"at {entry.recorded_at.isoformat(timespec='seconds')}"
                    )
    except (StationFileError, StationSyncError, HeimdallTableError, DatabaseConnectionError) as error:
        print(f"heimdall-stations: {error}", file=sys.stderr)
        return 1
    except psycopg.errors.IntegrityError as error:  # the constraints' word, should the checks above miss a case
        print(f"heimdall-stations: refused by the database, nothing changed: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    except psycopg.errors.InsufficientPrivilege as error:
        print(
            f"heimdall-stations: {' '.join(str(error).split())}: sync runs as the owner role "
            "(HEIMDALL_MIGRATE_DATABASE_URL, docs/integrating.md 'Receivers over time')",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
