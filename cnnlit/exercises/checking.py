"""Looking exercises up and checking answers: ``check``, ``diagnose``, ``catalogue``.

Importing this module registers every exercise of the book (:mod:`.bank`); nothing is computed until
a check runs. Under the grader (:mod:`.grading`, which sets ``CNNLIT_GRADING``) each ``check`` also
leaves a machine-readable record in the cell's outputs: a display of type :data:`RECORD_MIME`, which
a student running the notebook never sees.
"""
from __future__ import annotations

__all__ = ["RECORD_MIME", "catalogue", "check", "diagnose", "get", "keys", "markdown", "statement"]

import difflib
import os
from typing import Any, Optional

from . import bank  # noqa: F401  (registers the exercises)
from .checkers import CHECKERS
from .core import EXERCISES, STUB, Entry, Exercise, Problem, UnknownExercise

RECORD_MIME = "application/vnd.cnnlit.check+json"


def _record(exercise: Exercise, answer: Any, problem: Optional[Problem]) -> None:
    """Under the grader, the check's result as a display the grader reads back from the outputs."""
    if not os.environ.get("CNNLIT_GRADING"):
        return
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        attempted = answer is not None and getattr(problem, "kind", None) != STUB
        record = {"key": exercise.key, "passed": problem is None, "attempted": attempted,
                  "hint": "" if problem is None else str(problem)}
        display({RECORD_MIME: record}, raw=True)


def keys(chapter: Optional[int] = None) -> list[str]:
    """Every exercise key, or those of one chapter, in chapter order."""
    return [e.key for e in sorted(EXERCISES.values(), key=lambda e: (e.chapter, e.tier, e.key))
            if chapter is None or e.chapter == int(chapter)]


def get(key: str) -> Exercise:
    exercises = EXERCISES
    if key not in exercises:
        close = difflib.get_close_matches(str(key), list(exercises), n=3)
        guess = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownExercise(f"no exercise {key!r}.{guess} Valid keys: {', '.join(keys())}")
    return exercises[key]


def catalogue(chapter: Optional[int] = None) -> list[Entry]:
    """The exercises of ``chapter`` (all if None), ordered by chapter, tier and key: one
    :class:`Entry` each.
    """
    return [Entry(e.key, e.chapter, e.tier, e.stars, e.kind, e.statement)
            for e in (get(k) for k in keys(chapter))]


def markdown(chapter: int) -> str:
    """The chapter's exercises as a Markdown list: stars, statement and the line that checks the
    answer.
    """
    lines = []
    for entry in catalogue(chapter):
        lines.append(f"- {entry.stars} **{entry.key}** — {entry.statement}  \n"
                     f"  `check(\"{entry.key}\", answer)`")
    return "\n".join(lines)


def statement(key: str) -> str:
    exercise = get(key)
    return f"{exercise.stars} {exercise.key}: {exercise.statement}"


def diagnose(key: str, answer: Any) -> Optional[Problem]:
    """The problem with ``answer`` to exercise ``key``, or None if it is right (no printing)."""
    exercise = get(key)
    return CHECKERS[exercise.kind](exercise, answer)


def check(key: str, answer: Any) -> bool:
    """Check ``answer`` to exercise ``key`` against the reference solution, without showing it.

    Returns True, or prints what is wrong (shape, value, gradient, parameters...) and returns False.
    An unknown key raises :class:`UnknownExercise` (a KeyError) that lists the valid keys."""
    exercise = get(key)
    problem = diagnose(key, answer)
    _record(exercise, answer, problem)
    if problem is None:
        print(f"✓ {exercise.key} {exercise.stars}: correct.")
        return True
    print(f"✗ {exercise.key} {exercise.stars}: {problem}")
    return False
