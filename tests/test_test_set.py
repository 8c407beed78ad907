"""The test set is touched once, at the end (issue 25), read from every chapter's source: no
``val_data=`` names a test set, and no ``min``/``max``/``sorted`` chooses by one or by a test
score (a learning rate, an epoch, a design chosen on the test set would make its score
optimistic). Choices are made on a validation split (``TensorData.validation_split``)."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TEST_SET = re.compile(r"\b(\w+_)?test(_set|_data|_images|_loader)?\b")     # test, target_test, ...
TEST_SCORE = re.compile(r"\b(\w+_)?test(_\w+)?\b")          # the set, or test_error, ...
CHOOSERS = {"min", "max", "sorted", "argmin", "argmax", "idxmin", "idxmax", "nsmallest", "nlargest"}


def _code(cell: dict) -> str:
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    return "\n".join(line for line in source.splitlines()
                     if not line.lstrip().startswith(("%", "!")))


def uses_of_the_test_set(source: str) -> list[str]:
    """The places in ``source`` where a test set validates or chooses, as source text."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "val_data" and TEST_SET.search(ast.unparse(keyword.value)):
                found.append(ast.unparse(node))
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id",
                                                                                   None)
        if name in CHOOSERS:
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            if isinstance(node.func, ast.Attribute):         # frame["test error"].idxmin()
                arguments.append(node.func.value)
            if any(TEST_SCORE.search(ast.unparse(argument)) for argument in arguments):
                found.append(ast.unparse(node))
    return found


def test_the_scanner_finds_a_test_set_used_to_validate_or_choose():
    assert uses_of_the_test_set("fit(model, train, 3, val_data=test)")
    assert uses_of_the_test_set("h = fit(model, train, val_data=test_set, progress=False)")
    assert uses_of_the_test_set("best = min(rates, key=lambda lr: evaluate(runs[lr], test).error)")
    assert uses_of_the_test_set("order = sorted(designs, key=lambda d: scores(d, test_data))")
    assert not uses_of_the_test_set("fit(model, train, 3, val_data=validation)")
    assert not uses_of_the_test_set("best = min(rates, key=lambda lr: runs[lr].val_loss[-1])")
    assert not uses_of_the_test_set("result = evaluate(model, test)          # once, at the end")
    assert uses_of_the_test_set("fit(model, source, val_data=target_test)")
    assert not uses_of_the_test_set("latest = max(contest_entries, key=fastest)")
    assert uses_of_the_test_set("best = min(runs, key=lambda run: run.test_error)")
    assert not uses_of_the_test_set("best = min(runs, key=lambda run: run.val_error)")
    assert uses_of_the_test_set('epoch = history["test error"].idxmin()')
    assert not uses_of_the_test_set('epoch = history["validation error"].idxmin()')


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_chapter_validates_or_chooses_on_its_test_set(path):
    cells = json.loads(path.read_text())["cells"]
    uses = {index: uses_of_the_test_set(_code(cell)) for index, cell in enumerate(cells)
            if cell["cell_type"] == "code"}
    uses = {index: found for index, found in uses.items() if found}
    assert not uses, (f"{path.name}: the test set validates or chooses (cell: calls): {uses}; "
                      "watch a validation split and score the test set once, at the end")
