"""The documents an operator and a newcomer read (README.md, docs/, every README in the
repository) link only to files and headings that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deploy.support import REPO

DOCUMENTS = sorted(
    path
    for pattern in ("README.md", "docs/*.md", "*/README.md", "*/*/README.md")
    for path in REPO.glob(pattern)
)
# [text](target): relative targets only; absolute URLs are not checked here.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    lines = path.read_text().splitlines()
    return {_anchor(line.lstrip("#")) for line in lines if line.startswith("#")}


def test_the_documents_are_found() -> None:
    names = {p.relative_to(REPO).as_posix() for p in DOCUMENTS}
    assert {"README.md", "docs/SKELETON.md", "docs/ARCHITECTURE.md"} <= names


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(document: Path) -> None:
    broken = []
    for target in LINK.findall(document.read_text()):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        path = (document.parent / file).resolve() if file else document
        if not path.exists():
            broken.append(f"{target}: no file {path}")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target}: no heading #{anchor} in {path.name}")
    assert broken == [], f"{document.relative_to(REPO)}: {broken}"
