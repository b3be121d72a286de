"""Applied migrations are immutable: heimdall-migrate records each file's sha256 and refuses a database
whose applied file has changed since (a comment edit included). This pins the released files, so an
edit fails here, in the suite, instead of on every server that applied the file."""

from __future__ import annotations

import hashlib
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parents[2] / "sql" / "schema" / "migrations"
RELEASED = Path(__file__).with_name("released_migrations.sha256")


def _pinned() -> dict[str, str]:
    return {name: digest for digest, name in (line.split() for line in RELEASED.read_text().splitlines() if line.strip())}


def test_no_released_migration_changed_and_every_migration_is_pinned():
    pinned = _pinned()
    files = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in MIGRATIONS.glob("*.sql")}
    changed = sorted(name for name, digest in pinned.items() if files.get(name) != digest)
    assert not changed, f"released migrations changed or removed: {changed}. Restore them byte for byte and add a new migration"
    unpinned = sorted(set(files) - set(pinned))
    assert not unpinned, (
        f"new migrations {unpinned}: once released, pin them with "
        f"`(cd sql/schema/migrations && sha256sum {' '.join(unpinned)}) >> {RELEASED.relative_to(MIGRATIONS.parents[2])}`"
    )
