"""The lesson stays in the cells (issue 24), read from every chapter's source without running it:

- running every cell never replaces a name the student defined: no cell tagged ``solution`` binds a
  top-level name that a student's cell (an untagged code cell of the Exercises section) binds, nor
  one that any earlier cell of the chapter binds (its own imports aside);
- a sentence that depends on the outcome is the verdict line (``cnnlit.paper.verdict``), never a
  paragraph built in code: a ``display(Markdown(f"..."))`` says at most one sentence;
- one ``claim``/``expect``, in ``cnnlit.paper``: no notebook defines its own ``claim``;
- the test set is touched once, at the end (issue 25): no ``val_data=`` names a test set, and no
  ``min``/``max``/``sorted``/``idxmin``... chooses by one or by a test score (a learning rate, an
  epoch or a design chosen on the test set would make its score optimistic); choices are made on a
  validation split (``TensorData.validation_split``).
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
          ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _tree(cell: dict) -> ast.Module:
    """A code cell's syntax tree, IPython's ``%magic`` and ``!shell`` lines left out."""
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    return ast.parse("\n".join(line for line in source.splitlines()
                               if not line.lstrip().startswith(("%", "!"))))


def _is_solution(cell: dict) -> bool:
    return "solution" in cell.get("metadata", {}).get("tags", [])


def _stores(node: ast.AST):
    """Names ``node`` binds in its own scope (not inside functions, lambdas or comprehensions)."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        yield node.id
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, NESTED):
            yield from _stores(child)


def top_level_names(cell: dict) -> set[str]:
    """Every name a code cell binds at the notebook's top level: assignments, loops,
    ``with ... as``, definitions and imports."""
    names = set()
    for statement in _tree(cell).body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(statement.name)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
        else:
            names |= set(_stores(statement))
    return names


def student_cells(cells: list[dict]) -> list[int]:
    """Indices of the code cells a student writes in: untagged code cells after '## Exercises'."""
    start = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                  and re.search(r"^## Exercises", "".join(c["source"]), flags=re.MULTILINE)),
                 len(cells))
    return [i for i, c in enumerate(cells)
            if i > start and c["cell_type"] == "code" and not _is_solution(c)]


def overwritten_names(cells: list[dict]) -> dict[int, list[str]]:
    """Per solution cell, the student's names it binds again."""
    students = set().union(*[top_level_names(cells[i]) for i in student_cells(cells)])
    found = {}
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code" and _is_solution(cell):
            clash = sorted(top_level_names(cell) & students)
            if clash:
                found[index] = clash
    return found


def imported_names(cell: dict) -> set[str]:
    """The names a code cell's top-level imports bind."""
    return {(alias.asname or alias.name).split(".")[0] for statement in _tree(cell).body
            if isinstance(statement, (ast.Import, ast.ImportFrom)) for alias in statement.names}


def rebound_chapter_names(cells: list[dict]) -> dict[int, list[str]]:
    """Per solution cell, the names it binds (its imports aside) that a cell of the chapter before
    it binds: running every cell would replace what the chapter (or the student) built."""
    found, earlier = {}, set()
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        if _is_solution(cell):
            clash = sorted((top_level_names(cell) - imported_names(cell)) & earlier)
            if clash:
                found[index] = clash
        else:
            earlier |= top_level_names(cell)
    return found


# --------------------------------------------------------------------------- text built in code

ABBREVIATIONS = re.compile(r"\b(e\.g|i\.e|cf|vs|et al|etc|Fig|Figs|Eq|Sec|approx|no)\.", flags=re.I)
HOLE = "…"                    # what a formatted value or an unknown expression reads as


def sentences(text: str) -> list[str]:
    """The sentences of a paragraph: split after . ! or ? (and any closing bracket, quote or bold
    marker) followed by a space; abbreviations ("e.g.") and decimals (2.5) do not end one."""
    text = ABBREVIATIONS.sub(lambda match: match.group(0)[:-1], text.strip())
    pieces = re.split(r"[.!?][)\]\"'*_`]*\s+", text)
    return [piece for piece in pieces if re.search(r"\w", piece)]


class _Text:
    """The words a Markdown call's argument can produce, as far as the notebook's source shows
    them: f-string literals, string constants, ``+`` concatenation, the longer branch of
    ``a if c else b``, names assigned in the same cell, and what functions defined in the notebook
    return. Anything else reads as a hole."""

    def __init__(self, functions: dict[str, ast.FunctionDef], assignments: dict[str, ast.AST]):
        self.functions, self.assignments, self.seen = functions, assignments, set()

    def __call__(self, node: ast.AST) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(self(part) if isinstance(part, ast.Constant) else HOLE
                           for part in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self(node.left) + self(node.right)
        if isinstance(node, ast.IfExp):
            return max(self(node.body), self(node.orelse), key=lambda text: len(sentences(text)))
        key = None
        if isinstance(node, ast.Name) and node.id in self.assignments:
            key, value = ("name", node.id), self.assignments[node.id]
            returned = [value]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in self.functions):
            key = ("function", node.func.id)
            returned = [n.value for n in ast.walk(self.functions[node.func.id])
                        if isinstance(n, ast.Return) and n.value is not None]
        if key is None or key in self.seen or not returned:
            return HOLE
        self.seen.add(key)
        try:
            return max((self(value) for value in returned), key=lambda text: len(sentences(text)))
        finally:
            self.seen.discard(key)


def built_paragraphs(cells: list[dict]) -> dict[int, list[str]]:
    """Per code cell, the text of each ``Markdown(...)`` built in code (not a plain constant)."""
    functions = {}
    for cell in cells:
        if cell["cell_type"] == "code":
            functions.update({node.name: node for node in ast.walk(_tree(cell))
                              if isinstance(node, ast.FunctionDef)})
    found = {}
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        tree = _tree(cell)
        assignments = {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
                       for target in node.targets if isinstance(target, ast.Name)}
        read = _Text(functions, assignments)
        for node in ast.walk(tree):
            called = isinstance(node, ast.Call) and getattr(node.func, "id",
                                                            getattr(node.func, "attr", None))
            if called == "Markdown" and node.args and not isinstance(node.args[0], ast.Constant):
                found.setdefault(index, []).append(read(node.args[0]))
    return found


def claim_definitions(cells: list[dict]) -> list[int]:
    """Indices of code cells that define a function (or bind a name) called ``claim``."""
    def defines(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node.name == "claim"
        return isinstance(node, ast.Name) and node.id == "claim" and isinstance(node.ctx, ast.Store)

    return [index for index, cell in enumerate(cells) if cell["cell_type"] == "code"
            and any(defines(node) for node in ast.walk(_tree(cell)))]


# --------------------------------------------------------------------------- the scanners, checked

def _notebook(*cells) -> list[dict]:
    return [{"cell_type": kind, "metadata": {"tags": tags}, "source": source}
            for kind, tags, source in cells]


def test_the_scanners_find_what_they_look_for():
    cells = _notebook(
        ("code", [], "import math\ndef conv2d(x):\n    return x\n"),          # the chapter's own
        ("markdown", [], "## Exercises\n\n1. Write conv2d."),
        ("code", [], "def conv2d(x, w):\n    return None\n"
                     "answers = {k: 1 for k in 'ab'}\nfor i in []: pass"),
        ("code", ["solution", "hide-input"],
         "def conv2d(x, w):\n    return x\nsquares = [k for k in 'ab']"),
        ("code", ["solution"], "import math\nreference_i = 3\nx, (i, j) = 1, (2, 3)"),
        ("code", [], "def claim(c, t):\n    pass\nverdict = 'ok' if True else 'no'\n"
                     "display(Markdown(f'One {verdict}. Two, e.g. 2.5 points.'))\n"
                     "display(Markdown(f'**(b) Pooling.** ' + reading()))"),
        ("code", [], "def reading():\n    return f'Ends at {1}%: beyond. The paper said so.'\n"
                     "display(Markdown(f'One sentence, e.g. this one: {2.5} points.'))\n"
                     "display(Markdown('A constant. Not built in code.'))"))
    assert student_cells(cells) == [2, 5, 6]
    assert top_level_names(cells[2]) == {"conv2d", "answers", "i"}      # not the comprehension's k
    assert overwritten_names(cells) == {3: ["conv2d"], 4: ["i"]}       # math: the chapter's import
    assert rebound_chapter_names(cells) == {3: ["conv2d"], 4: ["i"]}   # not math (an import), not x
    paragraphs = built_paragraphs(cells)
    assert sorted(paragraphs) == [5, 6]
    assert [len(sentences(text)) for text in paragraphs[5]] == [2, 3]
    assert [len(sentences(text)) for text in paragraphs[6]] == [1]
    assert claim_definitions(cells) == [5]


# --------------------------------------------------------------------------- every chapter

# Chapters whose experiments still report in code (issue 24): strict, so the mark goes when they are
# converted to predict -> run -> verdict.
UNCONVERTED: dict[str, str] = {}


def _converted(paths):
    return [pytest.param(path, id=path.name,
                         marks=[pytest.mark.xfail(reason=UNCONVERTED[path.name], strict=True)]
                         if path.name in UNCONVERTED else []) for path in paths]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_solution_replaces_a_name_the_student_defined(path):
    clashes = overwritten_names(_cells(path))
    assert not clashes, (f"{path.name}: solution cells bind the student's names, so Run All "
                         f"replaces the student's work (cell: names): {clashes}")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_solution_replaces_a_name_the_chapter_built_before_it(path):
    clashes = rebound_chapter_names(_cells(path))
    assert not clashes, (f"{path.name}: solution cells bind names an earlier cell of the chapter "
                         f"binds, so Run All replaces them (cell: names): {clashes}; give the "
                         "solution's names their own (e.g. picture_reference)")


@pytest.mark.parametrize("path", _converted(CHAPTERS))
def test_no_paragraph_is_built_in_code(path):
    long = {index: [len(sentences(text)) for text in texts]
            for index, texts in built_paragraphs(_cells(path)).items()
            if any(len(sentences(text)) > 1 for text in texts)}
    assert not long, (f"{path.name}: display(Markdown(f...)) builds a paragraph of more than one "
                      f"sentence (cell: sentences per Markdown call): {long}; write what holds "
                      "whatever the outcome as Markdown, and the outcome as cnnlit.paper.verdict's "
                      "line")


@pytest.mark.parametrize("path", _converted(CHAPTERS))
def test_no_notebook_defines_its_own_claim(path):
    cells = claim_definitions(_cells(path))
    assert not cells, (f"{path.name}: cells {cells} define `claim`; use cnnlit.paper.expect "
                       "or cnnlit.paper.verdict, with the profiles the text states")


TEST_SET = re.compile(r"\b(\w+_)?test(_\w+)?\b")     # test, target_test, test_error, ...
CHOOSERS = {"min", "max", "sorted", "argmin", "argmax", "idxmin", "idxmax", "nsmallest", "nlargest"}


def uses_of_the_test_set(tree: ast.AST) -> list[str]:
    """The calls in ``tree`` where a test set validates or chooses, as source text."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if any(keyword.arg == "val_data" and TEST_SET.search(ast.unparse(keyword.value))
               for keyword in node.keywords):
            found.append(ast.unparse(node))
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id",
                                                                                   None)
        if name in CHOOSERS:
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            if isinstance(node.func, ast.Attribute):         # frame["test error"].idxmin()
                arguments.append(node.func.value)
            if any(TEST_SET.search(ast.unparse(argument)) for argument in arguments):
                found.append(ast.unparse(node))
    return found


def test_the_test_set_scanner_finds_a_test_set_used_to_validate_or_choose():
    def uses(source):
        return uses_of_the_test_set(ast.parse(source))

    assert uses("fit(model, train, 3, val_data=test)")
    assert uses("h = fit(model, train, val_data=test_set, progress=False)")
    assert uses("fit(model, source, val_data=target_test)")
    assert uses("best = min(rates, key=lambda lr: evaluate(runs[lr], test).error)")
    assert uses("order = sorted(designs, key=lambda d: scores(d, test_data))")
    assert uses("best = min(runs, key=lambda run: run.test_error)")
    assert uses('epoch = history["test error"].idxmin()')
    assert not uses("fit(model, train, 3, val_data=validation)")
    assert not uses("best = min(rates, key=lambda lr: runs[lr].val_loss[-1])")
    assert not uses("best = min(runs, key=lambda run: run.val_error)")
    assert not uses('epoch = history["validation error"].idxmin()')
    assert not uses("result = evaluate(model, test)          # once, at the end")
    assert not uses("latest = max(contest_entries, key=fastest)")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_chapter_validates_or_chooses_on_its_test_set(path):
    uses = {index: uses_of_the_test_set(_tree(cell)) for index, cell in enumerate(_cells(path))
            if cell["cell_type"] == "code"}
    uses = {index: found for index, found in uses.items() if found}
    assert not uses, (f"{path.name}: the test set validates or chooses (cell: calls): {uses}; "
                      "watch a validation split and score the test set once, at the end")
