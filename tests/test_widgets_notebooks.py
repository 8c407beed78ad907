"""The chapters' controls, as the notebooks write them: every live control is kept out of the site
build (neither executed nor shown), is preceded by its kernel-free counterpart made by the same
plotting function, and by markdown that says what to try and what to expect; no other cell makes
widgets."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CONTROL_TAGS = {"skip-execution", "remove-cell"}
COUNTERPARTS = ("frames", "small_multiples")


def _source(cell) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _tags(cell) -> set:
    return set(cell.get("metadata", {}).get("tags", []))


def _calls(source: str, names) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
            and (getattr(node.func, "id", None) in names or getattr(node.func, "attr",
                                                                    None) in names)]


def _controls():
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] == "code" and _calls(_source(cell), {"control", "show_control"}):
                yield f"{path.stem} cell {index}", cells, index


CONTROLS = list(_controls())


def test_the_chapters_have_their_controls():
    per_chapter = {}
    for where, _, _ in CONTROLS:
        per_chapter[where.split()[0]] = per_chapter.get(where.split()[0], 0) + 1
    assert per_chapter == {"01_lenet5": 2, "02_alexnet": 2, "03_zfnet": 1, "04_vgg": 1,
                           "06_googlenet": 1,
                           "07_resnet": 1}


@pytest.mark.parametrize("where, cells, index", CONTROLS, ids=[w for w, _, _ in CONTROLS])
def test_a_control_is_neither_run_nor_shown_by_the_site(where, cells, index):
    assert CONTROL_TAGS <= _tags(cells[index]), f"{where}: tag the control {sorted(CONTROL_TAGS)}"
    assert not _source(cells[index]).rstrip().endswith(";"), (
        f"{where}: control() returns nothing to hide"
    )


@pytest.mark.parametrize("where, cells, index", CONTROLS, ids=[w for w, _, _ in CONTROLS])
def test_a_control_follows_its_counterpart_and_says_what_to_try(where, cells, index):
    before = cells[:index]
    counterpart = next((c for c in reversed(before) if c["cell_type"] == "code"
                        and _calls(_source(c), COUNTERPARTS)), None)
    assert counterpart is not None, (f"{where}: no frames(...) or small_multiples(...) before the "
                                     f"control")
    assert not (CONTROL_TAGS & _tags(counterpart)), (f"{where}: the counterpart must run and show "
                                                     f"on the site")
    # the same plotting function draws both
    control_call = _calls(_source(cells[index]), {"control", "show_control"})[0]
    shown = ast.unparse(_calls(_source(counterpart), COUNTERPARTS)[0].args[0])
    # FilterInspector.show_control
    if getattr(control_call.func, "attr", None) == "show_control":
        owner = ast.unparse(control_call.func.value)
        assert f"{owner}.plot" in _source(counterpart), (
            f"{where}: the counterpart does not draw {owner}.plot"
        )
    else:
        assert ast.unparse(control_call.args[0]) == shown, (
            f"{where}: control and counterpart draw different views"
        )
    note = next(_source(c) for c in reversed(before) if c["cell_type"] == "markdown")
    assert "**Try**" in note and "**Expect**" in note, (
        f"{where}: say what to try and what to expect"
    )


def test_no_other_cell_makes_widgets():
    for path in NOTEBOOKS:
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            source = _source(cell)
            if cell["cell_type"] != "code" or CONTROL_TAGS <= _tags(cell):
                continue
            assert not re.search(r"\bipywidgets\b|\binteract(ive)?\(|\bcontrol\(", source), \
                (f"{path.stem} cell {index}: a widget outside a control cell (the site cannot run "
                 f"it)")
