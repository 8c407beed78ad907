"""Notebook chores for the book's authors.

    python tools/notebooks.py build SOURCE.py NOTEBOOK.ipynb   # percent-format script -> clean notebook
    python tools/notebooks.py setup-cell                        # print the setup cell every chapter starts with
    python tools/notebooks.py sync                              # rewrite every notebook's setup cell
    python tools/notebooks.py student OUTDIR                    # solution-free copies for a class
    python tools/notebooks.py clean                             # drop outputs and execution counts

Percent format: ``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell (its lines lose the
leading ``# ``); ``tags=a,b`` after either marker sets cell tags. The setup cell is added first.
Solutions: a markdown solution is folded in every renderer (site, JupyterLab, Colab) by plain HTML,
``<details>``, a ``<summary>Solution</summary>`` line, a blank line, the Markdown, a blank line, ``</details>``;
a code solution is tagged ``solution`` and ``hide-input`` (the site folds it) and has
``metadata.jupyter.source_hidden`` (JupyterLab folds it). ``student`` removes cells tagged ``solution`` and
every ``<details>`` block whose summary starts with "Solution".
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SETUP_TAG = "setup"
SETUP_TAGS = [SETUP_TAG, "hide-input"]      # the site folds the set-up code and shows its one-line output


def repository_url() -> str:
    """The one repository setting: ``repository.url`` in _config.yml (launch buttons use it too)."""
    text = (ROOT / "_config.yml").read_text()
    match = re.search(r"^repository:\s*\n(?:\s+.*\n)*?\s+url:\s*(\S+)", text, flags=re.MULTILINE)
    if not match:
        raise SystemExit("_config.yml has no repository: url: setting")
    return match.group(1).strip("'\"")


# The first cell of every chapter. Where cnnlit is missing (Colab) it installs it with pip, without extras,
# on top of the torch already there; a failed install ends in one sentence on the cause and the remedy, not
# in pip's traceback. On Colab it then names the GPU it got and the profile that follows from it.
# tests/test_colab_install.py runs it in a clean environment (with the checkout in place of the URL).
SETUP_CELL = """\
# Setup (the same in every chapter): on Colab, install cnnlit from the book's repository.
import importlib.util, subprocess, sys
REPOSITORY = "{url}"
OFFLINE = ("resolve host", "name resolution", "unreachable", "failed to connect",
           "establish a new connection", "timed out", "satisfies the requirement")
NOT_A_REPOSITORY = ("not found", "not appear to be a git repository", "could not read")
if importlib.util.find_spec("cnnlit") is None:
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{{REPOSITORY}}"],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        log = pip.stderr.lower()
        if any(s in log for s in OFFLINE):
            cause = ("there is no network here; connect (on Colab: Runtime > Reconnect) "
                     "and run this cell again")
        elif any(s in log for s in NOT_A_REPOSITORY):
            cause = f"{{REPOSITORY}} is not a repository pip can read; correct REPOSITORY above"
        else:
            cause = "pip failed, saying: " + " | ".join(pip.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"cnnlit is not installed and installing it failed: {{cause}}. "
                           f"Or install it yourself: pip install git+{{REPOSITORY}}") from None
import cnnlit
cnnlit.about()
if "google.colab" in sys.modules:
    import torch
    gpu = (torch.cuda.get_device_name() if torch.cuda.is_available()
           else "none (Runtime > Change runtime type)")
    print(f"Colab GPU: {{gpu}} | profile: {{cnnlit.profile().name}}")"""


def setup_cell_source() -> str:
    return SETUP_CELL.format(url=repository_url())


def _cell(kind: str, source: str, tags: list[str]) -> dict:
    cell = {"cell_type": kind, "metadata": {"tags": tags} if tags else {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _notebook(cells: list[dict]) -> dict:
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}}}


def _write(path: Path, notebook: dict) -> None:
    for index, cell in enumerate(notebook["cells"]):
        cell["id"] = f"c{index:03d}"
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def build(source: Path, target: Path) -> None:
    cells = [_cell("code", setup_cell_source(), SETUP_TAGS)]
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
    _write(target, _notebook(cells))


def chapters() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def sync() -> None:
    for path in chapters():
        notebook = json.loads(path.read_text())
        first = notebook["cells"][0] if notebook["cells"] else None
        fresh = _cell("code", setup_cell_source(), SETUP_TAGS)
        if first and SETUP_TAG in first.get("metadata", {}).get("tags", []):
            notebook["cells"][0] = fresh
        else:
            notebook["cells"].insert(0, fresh)
        _write(path, notebook)


def clean() -> None:
    for path in chapters():
        notebook = json.loads(path.read_text())
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
        _write(path, notebook)


SOLUTION_BLOCK = re.compile(r"<details>\s*<summary>\s*Solution\b.*?</details>[ \t]*\n?", flags=re.S | re.I)


def _source(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def without_solutions(notebook: dict) -> dict:
    """The notebook less its solutions: cells tagged ``solution`` and folded ``<details>`` solution blocks."""
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
        sync()
    elif command == "clean":
        clean()
    elif command == "student" and len(arguments) == 1:
        student(Path(arguments[0]))
    else:
        print(__doc__)
        sys.exit(0 if command == "help" else 2)
