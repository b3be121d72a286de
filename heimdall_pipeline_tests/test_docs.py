"""The documentation stands alone: every relative link resolves to a file in this repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# [text](target) in markdown, ignoring absolute URLs and in-page anchors.
LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")


def _relative_links(document: Path) -> list[str]:
    targets = [m["target"].split("#", 1)[0] for m in LINK.finditer(document.read_text(encoding="utf-8"))]
    return [t for t in targets if t and "://" not in t and not t.startswith("mailto:")]


def test_every_relative_link_in_the_docs_resolves_inside_the_repo():
    documents = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]
    checked = 0
    for document in documents:
        for target in _relative_links(document):
            resolved = (document.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{document.name} links outside the repo: {target}"
            assert resolved.exists(), f"{document.name} links to a missing file: {target}"
            checked += 1
    assert checked > 0


# A relative path written as text (not a link), e.g. `../something/FILE.md`.
RELATIVE_PATH = re.compile(r"(?<![\w/.])\.\./[\w./-]+")


def test_no_document_points_at_files_beside_the_checkout():
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for path in RELATIVE_PATH.findall(document.read_text(encoding="utf-8")):
            resolved = (document.parent / path).resolve()
            assert resolved.is_relative_to(ROOT), f"{document.name} names a path outside the repo: {path}"
