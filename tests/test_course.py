"""The course guide (book/course_guide.md) agrees with the chapters it plans a course from.

- The sections it lists as optional for a chapter are exactly the headings that chapter marks
  with a trailing " (optional)"; the sections it lists as core are headings there, unmarked.
- Every exercise of the bank (``cnnlit.exercises``) is checked in its chapter by a code cell
  calling ``check("key", ...)``, and the guide lists it under its chapter with the bank's stars.
- Its run times are the ones benchmarks/RESULTS.md measured, and it sits after "How to use" in
  the table of contents.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cnnlit.exercises import catalogue

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "book" / "course_guide.md"
NOTEBOOKS = {
    path.stem[:2]: path for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
}
OPTIONAL = "(optional)"
HEADING = re.compile(r"^#{2,6}[ \t]+(.+?)[ \t]*$", re.MULTILINE)   # a section, not the title
CHAPTER = re.compile(r"^### (\d\d) ", re.MULTILINE)                  # the guide's "### 01 LeNet-5"
KEY = re.compile(r"\b\d\d\.[a-z][a-z0-9_]*\b")
EXERCISE_ROW = re.compile(r"^\|\s*(★+)\s*\|\s*`(\d\d\.\w+)`\s*\|", re.MULTILINE)


def _source(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _cells(chapter: str, kind: str) -> list[str]:
    cells = json.loads(NOTEBOOKS[chapter].read_text())["cells"]
    return [_source(cell) for cell in cells if cell["cell_type"] == kind]


def headings(chapter: str) -> dict[str, bool]:
    """{heading text without the marker: marked optional?} for every section of a chapter."""
    found = {}
    for text in _cells(chapter, "markdown"):
        for heading in HEADING.findall(text):
            optional = heading.endswith(" " + OPTIONAL)
            found[heading[:-len(OPTIONAL)].rstrip() if optional else heading] = optional
    return found


def guide_blocks() -> dict[str, str]:
    """The guide's text per chapter: from its "### NN ..." heading to the next heading of that
    level or above."""
    text = GUIDE.read_text()
    starts = list(CHAPTER.finditer(text))
    blocks = {}
    for match in starts:
        rest = text[match.end():]
        end = re.search(r"^#{1,3} ", rest, flags=re.MULTILINE)
        blocks[match.group(1)] = rest[:end.start()] if end else rest
    return blocks


def listed(block: str, label: str) -> list[str]:
    """The bullet list that follows the line "**<label> sections:**" in a chapter's block."""
    match = re.search(rf"^\*\*{label} sections:\*\*(.*)$((?:\n- .*)*)", block, flags=re.MULTILINE)
    assert match, f"no '**{label} sections:**' line"
    items = [line[2:].strip() for line in match.group(2).splitlines() if line.startswith("- ")]
    assert items or match.group(1).strip() == "none.", f"'{label} sections' lists nothing"
    return items


BLOCKS = guide_blocks() if GUIDE.exists() else {}


def test_the_guide_has_one_block_per_chapter():
    assert len(NOTEBOOKS) == 10 and sorted(BLOCKS) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS))
def test_optional_sections_are_the_ones_the_chapter_marks(chapter):
    marked = {heading for heading, optional in headings(chapter).items() if optional}
    in_guide = set(listed(BLOCKS[chapter], "Optional"))
    assert not in_guide - marked, (
        f"{chapter}: the guide lists as optional sections that the "
        f"chapter does not mark ' (optional)': {sorted(in_guide - marked)}"
    )
    assert not marked - in_guide, f"{chapter}: sections marked optional that the guide does not " \
                                  f"list: {sorted(marked - in_guide)}"


@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS))
def test_core_sections_are_unmarked_headings_of_the_chapter(chapter):
    sections = headings(chapter)
    core = listed(BLOCKS[chapter], "Core")
    assert core, f"{chapter}: the guide lists no core section"
    missing = [heading for heading in core if heading not in sections]
    assert not missing, f"{chapter}: the guide's core sections are not headings there: {missing}"
    marked = [heading for heading in core if sections[heading]]
    assert not marked, f"{chapter}: listed as core but marked optional: {marked}"


BANK = catalogue()


# Exercises the chapters do not pose yet (issue 26): strict, so the list shrinks as they come.
NOT_YET_POSED: dict[str, str] = {}


def _posed(entry):
    reason = NOT_YET_POSED.get(entry.key)
    return pytest.param(entry, id=entry.key, marks=[pytest.mark.xfail(reason=reason, strict=True)]
                        if reason else [])


@pytest.mark.parametrize("entry", [_posed(entry) for entry in BANK])
def test_every_bank_exercise_is_checked_in_its_chapter(entry):
    # check("key", answer), or the key in a cell that checks a table of answers in a loop
    call = re.compile(rf"""\bcheck\(\s*["']{re.escape(entry.key)}["']""")
    named = re.compile(rf"""["']{re.escape(entry.key)}["']""")
    chapter = f"{entry.chapter:02d}"
    assert any(call.search(code) or (named.search(code) and "check(" in code)
               for code in _cells(chapter, "code")), \
        f"{NOTEBOOKS[chapter].name} has no code cell calling check({entry.key!r}, ...)"


def test_the_guide_lists_every_exercise_under_its_chapter_with_its_stars():
    rows = {}
    for chapter, block in BLOCKS.items():
        for stars, key in EXERCISE_ROW.findall(block):
            assert key.startswith(chapter + "."), f"{key} is listed under chapter {chapter}"
            assert key not in rows, f"{key} is listed twice"
            rows[key] = stars
    bank = {entry.key: entry.stars for entry in BANK}
    assert not set(rows) - set(bank), f"keys the bank lacks: {sorted(set(rows) - set(bank))}"
    assert not set(bank) - set(rows), f"keys the guide lacks: {sorted(set(bank) - set(rows))}"
    wrong = {key: (rows[key], bank[key]) for key in bank if rows[key] != bank[key]}
    assert not wrong, f"stars in the guide differ from the bank's (guide, bank): {wrong}"
    stale = set(KEY.findall(GUIDE.read_text())) - set(bank)
    assert not stale, f"the guide names keys the bank lacks: {sorted(stale)}"


def _seconds(table_row: str) -> str:
    return table_row.split("|")[2].strip()


def test_the_cpu_times_are_the_measured_ones():
    """The guide's table gives each chapter's cpu-profile seconds as RESULTS.md recorded them."""
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    section = results.split("## Notebook times", 1)[1].split("**smoke profile**", 1)[0]
    guide = GUIDE.read_text()
    for chapter, path in NOTEBOOKS.items():
        measured = re.search(rf"^\| {path.stem} \|.*$", section, flags=re.MULTILINE)
        assert measured, f"RESULTS.md has no cpu time for {path.stem}"
        row = re.search(rf"^\| {chapter} .*$", guide, flags=re.MULTILINE)
        assert row, f"the guide's table has no row for chapter {chapter}"
        assert f"| {_seconds(measured.group(0))} s |" in row.group(0), \
            (f"chapter {chapter}: the guide's cpu time is not RESULTS.md's "
             f"{_seconds(measured.group(0))} s")


def test_the_guide_follows_how_to_use_in_the_table_of_contents():
    files = re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text())
    assert files[files.index("book/how_to_use") + 1] == "book/course_guide"


def test_each_lab_session_s_machine_time_is_the_sum_of_its_chapters():
    """The CPU-lab plan's "`cpu` run, measured" column adds up its chapters' times from the
    chapter table, to the second (half a second rounds up)."""
    guide = GUIDE.read_text()
    chapter_seconds = {}
    for chapter in NOTEBOOKS:
        row = re.search(rf"^\| {chapter} \|.*$", guide, flags=re.MULTILINE).group(0)
        chapter_seconds[chapter] = float(re.search(r"\| ([\d.]+) s \|", row).group(1))
    plan = guide.split("## The same plan in a lab of CPU laptops", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+|reading) \| ([\d, ]+) \| (\d+) s \|$", plan, flags=re.MULTILINE)
    assert rows, "the CPU-lab plan has no session table"
    planned = [c.strip() for _, chapters, _ in rows for c in chapters.split(",")]
    assert sorted(planned) == sorted(NOTEBOOKS), "every chapter once in the CPU-lab plan"
    for session, chapters, seconds in rows:
        total = sum(chapter_seconds[c.strip()] for c in chapters.split(","))
        assert int(seconds) == int(total + 0.5), \
            f"session {session}: {seconds} s, but its chapters' times add up to {total:.1f} s"
