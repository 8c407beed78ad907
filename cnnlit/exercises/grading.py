"""Grading a class's notebooks: each submission runs in a fresh kernel and its checks are collected.

``python -m cnnlit.exercises grade SUBMISSIONS... --out grades.csv --feedback DIR`` runs every
submitted notebook (a copy of ``make student``'s, filled in) from top to bottom in the ``smoke``
profile, with a time limit for the whole notebook. Every ``check(...)`` it makes leaves a record in
its outputs (the grader sets ``CNNLIT_GRADING``; see :mod:`.checking`). The result is one row per
student (the file's stem) and one column per exercise key:

- ``passed`` / ``failed``: the last check of that key said ✓ / ✗;
- ``not attempted``: no check of that key, or the answer was left at ``None`` or at the stub that
  raises NotImplementedError;
- ``error``: the cell that checks it raised before checking, or never ran (the notebook ran out of
  time, its kernel died, or the file is not a notebook).

A status column says how the notebook ran (``ok``, the first error, the timeout, ``not a
notebook``); a broken submission gets its row and the run goes on. The students' code runs with the
rights of whoever runs the grader, as with nbgrader: run it in a container or a throw-away account.
"""
from __future__ import annotations

__all__ = ["PASSED", "FAILED", "NOT_ATTEMPTED", "ERROR", "Grade", "columns", "grade",
           "grade_notebook", "write_csv", "write_feedback"]

import csv
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

from .checking import RECORD_MIME, get, keys
from .core import EXERCISES

PASSED, FAILED, NOT_ATTEMPTED, ERROR = "passed", "failed", "not attempted", "error"
_QUOTED_KEY = re.compile(r"""["'](\d\d\.\w+)["']""")


@dataclass
class Grade:
    """One student's results: ``status`` says how the notebook ran, ``results`` maps a key to
    passed, failed, not attempted or error, ``hints`` holds the hint of each failed check,
    ``errors`` the errors raised (cell, name, message), ``mentioned`` the keys its cells name."""
    student: str
    status: str
    results: dict = field(default_factory=dict)
    hints: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    mentioned: set = field(default_factory=set)

    def result(self, key: str) -> str:
        if key in self.results:
            return self.results[key]
        return ERROR if self.status == "not a notebook" else NOT_ATTEMPTED


def _mentioned(source: str) -> set:
    """The exercise keys a cell names in quotes (check("01.c3_mask", ...) or an answers dict)."""
    return {key for key in _QUOTED_KEY.findall(source) if key in EXERCISES}


def _run(notebook, path: Path, timeout: float, profile: str,
         kernel: str) -> tuple[str, Optional[int]]:
    """Execute the notebook's code cells in order, in place: the status, and the cell where it
    stopped (None when it ran to the end)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    env = dict(os.environ, CNNLIT_PROFILE=profile, CNNLIT_GRADING="1")
    env.pop("CNNLIT_DRY_RUN", None)
    client = NotebookClient(notebook, timeout=max(1, math.ceil(timeout)), kernel_name=kernel,
                            allow_errors=True, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    deadline = time.monotonic() + timeout
    index = 0
    try:
        with client.setup_kernel(env=env):
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type != "code":
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CellTimeoutError(f"the notebook's {timeout:g} s ran out")
                client.timeout = max(1, math.ceil(remaining))
                client.execute_cell(cell, index)
    except CellTimeoutError:
        return f"timed out after {timeout:g} s in cell {index + 1}", index
    except DeadKernelError:
        return f"kernel died in cell {index + 1}", index
    except Exception as error:                      # the kernel would not start, or nbclient failed
        return f"could not run: {type(error).__name__}", index
    return "ok", None


def grade_notebook(path, timeout: float = 600, profile: str = "smoke",
                   kernel: str = "python3") -> Grade:
    """Run one submission and collect its checks; never raises for a broken submission."""
    import nbformat

    path = Path(path)
    student = path.stem
    try:
        notebook = nbformat.read(path, as_version=4)
        cells = list(notebook.cells)
    except Exception as error:                      # not JSON, not a notebook, unreadable
        return Grade(student, "not a notebook", errors=[(None, type(error).__name__, str(error))])
    status, stopped = _run(notebook, path, timeout, profile, kernel)
    grade = Grade(student, status)
    errored = set()
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        named = _mentioned(cell.source)
        grade.mentioned |= named
        records = {}
        for output in cell.get("outputs", []):
            if output.output_type == "display_data" and RECORD_MIME in output.get("data", {}):
                record = output.data[RECORD_MIME]
                records[record["key"]] = record
            elif output.output_type == "error":
                grade.errors.append((index + 1, output.ename, output.evalue))
                errored |= named
        if stopped is not None and index >= stopped:
            errored |= named
        for key, record in records.items():                 # a later check of a key overrides
            grade.mentioned.add(key)
            errored.discard(key)
            if not record["attempted"]:
                grade.results[key] = NOT_ATTEMPTED
            else:
                grade.results[key] = PASSED if record["passed"] else FAILED
            wrong = record["attempted"] and not record["passed"]
            grade.hints[key] = record["hint"] if wrong else ""
    for key in errored:
        grade.results.setdefault(key, ERROR)
    if status == "ok" and grade.errors:
        cell, name, _ = grade.errors[0]
        more = f" (and {len(grade.errors) - 1} more)" if len(grade.errors) > 1 else ""
        grade.status = f"error in cell {cell}: {name}{more}"
    return grade


def columns(grades: Iterable[Grade]) -> list[str]:
    """Every key of the chapters the submissions check, in the book's order."""
    chapters = {get(key).chapter for grade in grades for key in grade.mentioned}
    return [key for key in keys() if get(key).chapter in chapters]


def write_csv(grades: Sequence[Grade], out, exercise_keys: Sequence[str]) -> None:
    with open(out, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["student", "status", *exercise_keys])
        for grade in grades:
            results = [grade.result(key) for key in exercise_keys]
            writer.writerow([grade.student, grade.status, *results])


def write_feedback(grade: Grade, folder, exercise_keys: Sequence[str]) -> Path:
    """A short Markdown file for the student: each exercise's result with the hint it got, and the
    errors the notebook raised."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"# {grade.student}", "", f"Notebook: {grade.status}", ""]
    for key in exercise_keys:
        result = grade.result(key)
        hint = grade.hints.get(key)
        lines.append(f"- {key}: {result}" + (f" — {hint}" if hint else ""))
    if grade.errors:
        lines += ["", "Errors:"]
        lines += [f"- {'cell ' + str(cell) + ': ' if cell else ''}{name}: {message}"
                  for cell, name, message in grade.errors]
    path = folder / f"{grade.student}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def grade(submissions: Sequence, out, *, feedback=None, timeout: float = 600,
          profile: str = "smoke", kernel: str = "python3",
          exercise_keys: Optional[Sequence[str]] = None, log=print) -> list[Grade]:
    """Grade every submission in turn, then write the CSV (and the feedback files)."""
    paths = [Path(p) for p in submissions]
    stems = [p.stem for p in paths]
    twice = sorted({stem for stem in stems if stems.count(stem) > 1})
    if twice:
        raise ValueError(f"two submissions share a student name (file stem): {', '.join(twice)}")
    for key in exercise_keys or ():
        get(key)                                            # an unknown key lists the valid ones
    grades = []
    for path in paths:
        started = time.monotonic()
        result = grade_notebook(path, timeout=timeout, profile=profile, kernel=kernel)
        grades.append(result)
        log(f"{result.student}: {result.status} ({time.monotonic() - started:.0f} s)")
    chosen = list(exercise_keys) if exercise_keys else columns(grades)
    write_csv(grades, out, chosen)
    if feedback is not None:
        for result in grades:
            write_feedback(result, feedback, chosen)
    return grades
