"""The README is a front page and docs/ holds the topics: every page linked both ways, no link broken."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
# [text](target) outside code: the target up to the closing parenthesis, no spaces.
LINK = re.compile(r"\]\(([^)\s]+)\)")
FRONT_PAGE_MAX_LINES = 350


def prose(path: Path) -> str:
    """The file's text without its fenced code blocks."""
    return re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the file's headings: lowercased, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", prose(path), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def json_examples(path: Path) -> list[str]:
    return re.findall(r"^```json\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_readme_is_a_front_page_that_links_every_topic_page() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) < FRONT_PAGE_MAX_LINES
    linked = {target.split("#")[0] for target in LINK.findall(prose(README))}
    assert PAGES and {f"docs/{page.name}" for page in PAGES} <= linked


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_topic_page_links_back_to_the_readme(page: Path) -> None:
    assert "../README.md" in {target.split("#")[0] for target in LINK.findall(prose(page))}


@pytest.mark.parametrize("page", [README, *PAGES], ids=["README.md", *(page.name for page in PAGES)])
def test_every_relative_link_reaches_a_file_and_its_heading(page: Path) -> None:
    for target in LINK.findall(prose(page)):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        assert destination.exists(), f"{page.name}: {target} is missing"
        if anchor:
            assert anchor in anchors(destination), f"{page.name}: {target} names no heading"


@pytest.mark.parametrize("page", [README, *PAGES], ids=["README.md", *(page.name for page in PAGES)])
def test_every_json_example_is_json(page: Path) -> None:
    for example in json_examples(page):
        json.loads(example)
