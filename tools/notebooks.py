"""Notebook chores for the book's authors.

    python tools/notebooks.py build SOURCE.py NOTEBOOK.ipynb   # percent-format script -> notebook
    python tools/notebooks.py setup-cell                        # print the setup cell
    python tools/notebooks.py sync [NOTEBOOK...]                # the setup cell, after each title
    python tools/notebooks.py student OUTDIR                    # solution-free copies for a class
    python tools/notebooks.py clean                             # drop outputs and execution counts

Percent format: ``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell (its lines lose the
leading ``# ``); ``tags=a,b`` after either marker sets cell tags. The setup cell is added after
the title (the first Markdown cell starting with ``# ``): a notebook starts with its title.
Solutions: a markdown solution is folded in every renderer (site, JupyterLab, Colab) by plain HTML,
``<details>``, a ``<summary>Solution</summary>`` line, a blank line, the Markdown, a blank line,
``</details>``; a code solution is tagged ``solution`` and ``hide-input`` (the site folds it) and
has ``metadata.jupyter.source_hidden`` (JupyterLab folds it). ``student`` removes cells tagged
``solution`` and every ``<details>`` block whose summary starts with "Solution" or "Rubric". A ★★★
exercise's rubric for instructors is such a block: ``<summary>Rubric (for instructors)</summary>``.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SETUP_TAG = "setup"
# the site folds the set-up code and shows its one-line output
SETUP_TAGS = [SETUP_TAG, "hide-input"]


def repository_url() -> str:
    """The one repository setting: ``repository.url`` in _config.yml (launch buttons use it too)."""
    text = (ROOT / "_config.yml").read_text()
    match = re.search(r"^repository:\s*\n(?:\s+.*\n)*?\s+url:\s*(\S+)", text, flags=re.MULTILINE)
    if not match:
        raise SystemExit("_config.yml has no repository: url: setting")
    return match.group(1).strip("'\"")


# The setup cell, right under every chapter's title. Where cnnlit is missing (Colab) it installs it
# with pip, without extras, on top of the torch already there; a failed install ends in one sentence
# quoting git's or pip's own reason (its first "fatal:" or "ERROR:" line), not pip's traceback.
# cnnlit.about() then prints the device (a GPU by name) and the profile. Folded on the site
# (hide-input) and in JupyterLab (source_hidden). tests/test_colab_install.py runs it in a clean
# environment, with the checkout in place of the URL.
SETUP_CELL = """\
# Setup: install cnnlit, the book's package, where it is missing (on Colab).
import importlib.util
import subprocess
import sys

REPOSITORY = "{url}"
if importlib.util.find_spec("cnnlit") is None:
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{{REPOSITORY}}"],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        said = [line.strip() for line in pip.stderr.splitlines()
                if line.strip().startswith(("fatal:", "ERROR:"))] or ["pip failed"]
        raise RuntimeError(f"cnnlit is not installed and installing it failed: {{said[0]}} (check "
                           "the network and REPOSITORY above, then run this cell again)") from None
import cnnlit

cnnlit.about()"""


def setup_cell_source() -> str:
    return SETUP_CELL.format(url=repository_url())


def _cell(kind: str, source: str, tags: list[str]) -> dict:
    cell = {"cell_type": kind, "metadata": {"tags": tags} if tags else {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def setup_cell() -> dict:
    """The setup cell, folded: the site hides code tagged hide-input, JupyterLab source_hidden."""
    cell = _cell("code", setup_cell_source(), SETUP_TAGS)
    cell["metadata"]["jupyter"] = {"source_hidden": True}
    return cell


def title_index(cells: list[dict]) -> int:
    """The title's index: the first Markdown cell starting with a level-1 heading (-1: none)."""
    return next((i for i, cell in enumerate(cells) if cell["cell_type"] == "markdown"
                 and _source(cell).lstrip().startswith("# ")), -1)


def with_setup_cell(cells: list[dict]) -> list[dict]:
    """``cells`` with one setup cell, the current one, right after the title (first without one).
    An old setup cell, wherever it is, is replaced and keeps its id; no other cell changes."""
    old = [cell for cell in cells if SETUP_TAG in cell.get("metadata", {}).get("tags", [])]
    rest = [cell for cell in cells if not any(cell is o for o in old)]
    fresh = setup_cell()
    if old and "id" in old[0]:
        fresh["id"] = old[0]["id"]
    at = title_index(rest) + 1
    return rest[:at] + [fresh] + rest[at:]


def _notebook(cells: list[dict]) -> dict:
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"},
                         "language_info": {"name": "python"}}}


def _write(path: Path, notebook: dict, *, renumber: bool = True) -> None:
    """Write as the repository stores notebooks; ``renumber`` gives the cells ids c000, c001..."""
    for index, cell in enumerate(notebook["cells"]):
        if renumber or "id" not in cell:
            cell["id"] = f"c{index:03d}" if renumber else _free_id(notebook["cells"])
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def _free_id(cells: list[dict]) -> str:
    taken = {cell.get("id") for cell in cells}
    return next(name for name in ("setup", *(f"setup-{n}" for n in range(1, len(cells) + 2)))
                if name not in taken)


def build(source: Path, target: Path) -> None:
    cells = []
    kind, tags, lines = None, [], []

    def flush():
        text = "\n".join(lines).strip("\n")
        if kind is not None and text:
            cells.append(_cell(kind, text, tags))

    for line in source.read_text().splitlines():
        marker = re.match(r"^# %%\s*(\[markdown\])?\s*(?:tags=(\S+))?\s*$", line)
        if marker:
            flush()
            kind = "markdown" if marker.group(1) else "code"
            tags = marker.group(2).split(",") if marker.group(2) else []
            lines = []
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        elif kind is not None:
            lines.append(line)
    flush()
    _write(target, _notebook(with_setup_cell(cells)))


def chapters() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def sync(paths: list[Path] | None = None) -> None:
    """Give every chapter (or ``paths``) the current setup cell, right after its title; the other
    cells, ids included, stay as they are, so that other branches' edits still merge."""
    for path in chapters() if paths is None else paths:
        notebook = json.loads(path.read_text())
        notebook["cells"] = with_setup_cell(notebook["cells"])
        _write(path, notebook, renumber=False)


def clean() -> None:
    for path in chapters():
        notebook = json.loads(path.read_text())
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
        _write(path, notebook)


# Folded blocks a class copy leaves out: solutions, and the instructors' rubrics for the ★★★
# exercises.
SOLUTION_BLOCK = re.compile(r"<details>\s*<summary>\s*(Solution|Rubric)\b.*?</details>[ \t]*\n?",
                            flags=re.S | re.I)


def _source(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def without_solutions(notebook: dict) -> dict:
    """The notebook less its solutions: cells tagged ``solution`` and folded ``<details>`` blocks
    whose summary starts with "Solution" or "Rubric" (the instructors' grading notes)."""
    cells = []
    for cell in notebook["cells"]:
        if "solution" in cell.get("metadata", {}).get("tags", []):
            continue
        if cell["cell_type"] == "markdown" and SOLUTION_BLOCK.search(_source(cell)):
            text = SOLUTION_BLOCK.sub("", _source(cell)).strip("\n")
            if not text.strip():
                continue
            cell = dict(cell, source=text)
        cells.append(cell)
    return dict(notebook, cells=cells)


def student(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in chapters():
        notebook = without_solutions(json.loads(path.read_text()))
        _write(out / path.name, notebook)
        print(f"{out / path.name}")


if __name__ == "__main__":
    command, *arguments = sys.argv[1:] or ["help"]
    if command == "build" and len(arguments) == 2:
        build(Path(arguments[0]), Path(arguments[1]))
    elif command == "setup-cell":
        print(setup_cell_source())
    elif command == "sync":
        sync([Path(a) for a in arguments] or None)
    elif command == "clean":
        clean()
    elif command == "student" and len(arguments) == 1:
        student(Path(arguments[0]))
    else:
        print(__doc__)
        sys.exit(0 if command == "help" else 2)
