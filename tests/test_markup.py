"""Markup that reads right in the three places a notebook is read: the site (MyST), JupyterLab and
Colab (plain Markdown). Every markdown cell is rendered here with a plain CommonMark renderer, as
Colab does; no MyST role or directive may be left in it, every solution must be folded in
``<details>``, every citation must read (Author, year) as its bibliography entry does, and no code
line may be wider than the site's code column."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CODE_COLUMN = 100          # characters of code the site shows without a scroll bar
sys.path.insert(0, str(ROOT / "book" / "_ext"))
sys.path.insert(0, str(ROOT / "tools"))
import citations  # noqa: E402

import notebooks as notebook_tools  # noqa: E402

COMMONMARK = MarkdownIt("commonmark", {"html": True})
# {cite}`key`, {ref}`label`, {doc}`page`
ROLE = re.compile(r"\{[a-zA-Z][\w:-]*\}`")
DIRECTIVE = re.compile(r"^\s*(```+|~~~+|:::+)\s*\{", re.MULTILINE)  # ```{note}, :::{admonition}
COLON_FENCE = re.compile(r"^\s*:::", re.MULTILINE)
TARGET = re.compile(r"^\s*\([\w-]+\)=\s*$", re.MULTILINE)           # (label)=
# a folded block is a solution or, after a ★★★ exercise, its rubric for instructors
SOLUTION_OPEN = re.compile(r"^<details>\s*<summary>\s*(Solution|Rubric)\b[^<]*</summary>\s*$")


def _source(cell) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _cells(kind: str):
    for path in NOTEBOOKS:
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == kind:
                yield f"{path.stem} cell {index}", cell


def _text(html: str) -> str:
    """What a reader sees of rendered HTML, less code and math (code may show braces and backticks).
    """
    html = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", "", html)


def _without_math(markdown: str) -> str:
    markdown = re.sub(r"\$\$.*?\$\$", "", markdown, flags=re.S)
    return re.sub(r"\$[^$\n]+\$", "", markdown)


MARKDOWN_CELLS = list(_cells("markdown"))
CODE_CELLS = list(_cells("code"))
REFERENCES = citations.references(ROOT / "book" / "references.bib")


def test_there_are_cells_to_check():
    assert len(NOTEBOOKS) >= 8 and len(MARKDOWN_CELLS) > 100 and len(CODE_CELLS) > 100


@pytest.mark.parametrize("where, cell", MARKDOWN_CELLS, ids=[w for w, _ in MARKDOWN_CELLS])
def test_no_myst_syntax_left_in_plain_markdown(where, cell):
    source = _source(cell)
    visible = _text(COMMONMARK.render(_without_math(source)))
    problems = [f"role {m.group(0)!r}" for m in ROLE.finditer(source)]
    problems += [f"directive {m.group(0).strip()!r}" for m in DIRECTIVE.finditer(source)]
    problems += [f"colon fence {m.group(0).strip()!r}" for m in COLON_FENCE.finditer(visible)]
    problems += [f"MyST target {m.group(0).strip()!r}" for m in TARGET.finditer(source)]
    tokens = COMMONMARK.parse(source)
    problems += [
        f"directive fence {t.info!r}"
        for t in tokens
        if t.type == "fence" and t.info.startswith("{")
    ]
    assert not problems, f"{where}: {problems}"


def _solution_blocks(source: str) -> list[str]:
    return re.findall(r"<details>.*?</details>", source, flags=re.S)


@pytest.mark.parametrize("where, cell", MARKDOWN_CELLS, ids=[w for w, _ in MARKDOWN_CELLS])
def test_every_written_solution_is_folded_in_details(where, cell):
    source = _source(cell)
    tagged = "solution" in cell.get("metadata", {}).get("tags", [])
    outside = source
    for block in _solution_blocks(source):
        lines = block.splitlines()
        assert SOLUTION_OPEN.match(" ".join(lines[:2])), (
            f"{where}: a <details> block must start with "
            f"<details> and <summary>Solution…</summary> (or Rubric…)"
        )
        # CommonMark renders Markdown (and math) inside <details> only between blank lines
        assert lines[2] == "" and lines[-2] == "" and lines[-1] == "</details>", \
            f"{where}: leave a blank line after <summary> and before </details>"
        rendered = COMMONMARK.render(block)
        assert rendered.startswith("<details>") and ("<p>" in rendered or "<li>" in rendered), (
            f"{where}: the solution is not Markdown"
        )
        outside = outside.replace(block, "")
    if tagged:
        assert _solution_blocks(source) and not outside.strip(), \
            f"{where}: a solution cell holds one <details> block and nothing else"
    assert not re.search(r"^\W*Solution\b", outside,
                         flags=re.MULTILINE), f"{where}: an unfolded solution"


@pytest.mark.parametrize("where, cell", [(w, c) for w, c in CODE_CELLS
                                         if "solution" in c.get("metadata", {}).get("tags", [])])
def test_code_solutions_are_folded_on_the_site_and_in_jupyterlab(where, cell):
    assert "hide-input" in cell["metadata"]["tags"], f"{where}: the site shows the solution"
    assert cell["metadata"].get("jupyter",
                                {}).get("source_hidden"), f"{where}: JupyterLab shows the solution"


def test_citations_read_author_year_and_lead_to_the_paper():
    by_url = {entry["url"]: key for key, entry in REFERENCES.items() if entry["url"]}
    unlinked = {entry["label"] for entry in REFERENCES.values() if not entry["url"]}
    cited, problems = set(), []
    for where, cell in MARKDOWN_CELLS:
        for token in COMMONMARK.parseInline(_source(cell)):
            children = token.children or []
            for opening, text in zip(children, children[1:]):
                if opening.type != "link_open":
                    continue
                href, label = opening.attrs["href"], text.content
                if href in by_url:
                    key = by_url[href]
                    cited.add(key)
                    if label != REFERENCES[key]["label"]:
                        problems.append(f"{where}: [{label}] links {key}, which reads "
                                        f"{REFERENCES[key]['label']}")
                elif href.endswith("book/bibliography.md"):
                    if label not in unlinked:
                        problems.append(f"{where}: [{label}] links the bibliography but is not an "
                                        f"entry there")
                elif re.fullmatch(r"[A-Z][\w'-]+( (and [A-Z][\w'-]+|et al\.))?, \d{4}", label):
                    problems.append(f"{where}: [{label}]({href}) cites a URL that is not in "
                                    f"references.bib")
    assert not problems, "\n".join(problems)
    assert {"lecun1998gradient", "krizhevsky2012imagenet", "zeiler2014visualizing",
            "simonyan2015very",
            "szegedy2015going", "he2016deep"} <= cited


def test_bibliography_page_lists_every_entry():
    page = (ROOT / "book" / "bibliography.md").read_text()
    assert re.search(r"```\{bibliography\}\s*\n:all:",
                     page), "the bibliography must list every entry (:all:)"


def test_author_year_labels():
    assert REFERENCES["lecun1998gradient"]["label"] == "LeCun et al., 1998"
    assert REFERENCES["zeiler2014visualizing"]["label"] == "Zeiler and Fergus, 2014"
    assert REFERENCES["krizhevsky2009learning"]["label"] == "Krizhevsky, 2009"
    assert citations.anchor("jearanaitanakij_review") == "cite-jearanaitanakij-review"


@pytest.mark.parametrize("where, cell", CODE_CELLS, ids=[w for w, _ in CODE_CELLS])
def test_code_lines_fit_the_site_code_column(where, cell):
    wide = [line for line in _source(cell).splitlines() if len(line) > CODE_COLUMN]
    assert not wide, (f"{where}: {len(wide)} line(s) wider than {CODE_COLUMN} characters: "
                      f"{wide[0][:60]}…")


def test_student_copies_keep_exercises_and_drop_every_solution():
    notebook = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "**1.** Count the links."},
        {"cell_type": "markdown", "metadata": {"tags": ["solution"]},
         "source": "<details>\n<summary>Solution</summary>\n\n60 links.\n\n</details>"},
        {"cell_type": "markdown", "metadata": {},
         "source": "**2.** Why?\n\n<details>\n<summary>Solution "
                   "2</summary>\n\nBecause.\n\n</details>\n"},
        {"cell_type": "code", "metadata": {"tags": ["solution", "hide-input"]},
         "source": "print(60)"},
        {"cell_type": "code", "metadata": {}, "source": "x = 1"},
    ]}
    kept = notebook_tools.without_solutions(notebook)["cells"]
    assert [_source(c) for c in kept] == ["**1.** Count the links.", "**2.** Why?", "x = 1"]
    for path in NOTEBOOKS:
        for cell in notebook_tools.without_solutions(json.loads(path.read_text()))["cells"]:
            assert "<summary>Solution" not in _source(cell), (
                f"{path.stem}: a solution left in the student copy"
            )
