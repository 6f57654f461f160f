"""Run the documentation: every ```python block of docs/*.md and README.md.

Each page runs like a notebook: its ```python blocks execute in order, in one
namespace, in a temporary working directory. What a block prints must equal
the ```text block that immediately follows it (only blank lines between);
a block with no ```text block after it must print nothing. Trailing
whitespace and leading/trailing blank lines are ignored. A block whose info
string is ``python no-run`` is skipped (use sparingly).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
FENCE = re.compile(r"^(`{3,})\s*(.*)$")


class Block(NamedTuple):
    """One fenced block: its info string, its text and the line its code starts on."""

    info: str
    text: str
    line: int
    follows_previous: bool  # only blank lines between this block and the previous one


def parse_blocks(markdown: str, name: str = "<page>") -> list[Block]:
    """Split Markdown into its fenced blocks, in order.

    Examples
    --------
    >>> [b.info for b in parse_blocks("```python\\nx = 1\\n```\\n\\n```text\\n1\\n```\\n")]
    ['python', 'text']
    """
    blocks: list[Block] = []
    lines = markdown.splitlines()
    i, last_end = 0, None
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, info = match.group(1), match.group(2).strip()
        start = i + 1
        end = start
        while end < len(lines) and lines[end].rstrip() != fence:
            end += 1
        if end == len(lines):
            raise ValueError(f"{name}:{i + 1}: fenced block opened with {fence!r} is never closed")
        between = lines[last_end + 1 : i] if last_end is not None else ["x"]
        follows = all(not line.strip() for line in between)
        blocks.append(Block(info, "\n".join(lines[start:end]), start + 1, follows))
        last_end = end
        i = end + 1
    return blocks


def normalize(text: str) -> str:
    """Strip trailing whitespace per line and surrounding blank lines."""
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip("\n")


def examples(path: Path) -> list[tuple[Block, str | None]]:
    """The python blocks of a page to run, each with its expected output (or None)."""
    blocks = parse_blocks(path.read_text(encoding="utf-8"), path.name)
    runs = []
    for i, block in enumerate(blocks):
        words = block.info.split()
        if not words or words[0] != "python" or "no-run" in words[1:]:
            continue
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        expected = None
        if nxt is not None and nxt.info == "text" and nxt.follows_previous:
            expected = nxt.text
        runs.append((block, expected))
    return runs


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_runs_and_prints_what_it_says(page, tmp_path, monkeypatch):
    """Execute a page's python blocks in order and compare their output."""
    assert page.is_file(), f"{page.name} is missing"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for block, expected in examples(page):
        where = f"{page.name}:{block.line}"
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            exec(compile(block.text, where, "exec"), namespace)
        got = normalize(stdout.getvalue())
        want = "" if expected is None else normalize(expected)
        if expected is None:
            assert got == "", (
                f"{where}: the block printed output but no ```text block follows it:\n{got}"
            )
        else:
            assert got == want, f"{where}: printed output differs from the ```text block"


def test_pages_exist():
    """The docs the README links to are all present."""
    names = {p.name for p in PAGES}
    assert {"index.md", "concepts.md", "parallel-mechanics.md", "README.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_has_no_machine_paths(page):
    """No page mentions an absolute path of the machine it was written on."""
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"(?<![\w.])/(work|home|tmp|Users)/", text), page.name


def test_parse_blocks_pairs_code_with_output():
    """A text block counts as output only if nothing but blank lines precede it."""
    page = "```python\nprint(1)\n```\n\n```text\n1\n```\n```python\nx = 2\n```\nprose\n```text\nno\n```\n"
    blocks = parse_blocks(page)
    assert [(b.info, b.follows_previous) for b in blocks] == [
        ("python", False),
        ("text", True),
        ("python", True),
        ("text", False),
    ]
    with pytest.raises(ValueError, match="never closed"):
        parse_blocks("```python\nx = 1\n")
