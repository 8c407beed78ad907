"""The exercise records and their registry: one :class:`Exercise` per key.

An exercise stores its chapter, its tier (1 ★ check your understanding, 2 ★★ implement, 3 ★★★
experiment or design), a one-line statement, the kind of answer it expects and a zero-argument
callable that builds the reference (so importing the package computes nothing). The checkers in
:mod:`.checkers` compare an answer with the reference and return a :class:`Problem` (what is wrong,
in words that do not give the answer away) or ``None``; :mod:`.checking` looks exercises up and runs
the checks.
"""
from __future__ import annotations

__all__ = ["TIERS", "KINDS", "Problem", "Slip", "Exercise", "Entry", "UnknownExercise", "EXERCISES",
           "add_exercise"]

from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Optional

TIERS = {1: "★", 2: "★★", 3: "★★★"}
KINDS = ("number", "tensor", "function", "module", "design", "property")


STUB = "stub"      # Problem.kind of an answer still raising NotImplementedError


@dataclass(frozen=True)
class Problem:
    """What is wrong with an answer: ``kind`` is one of shape, value, gradient, parameters, type,
    error, design, or ``stub`` (the answer is still the stub that raises NotImplementedError: not
    attempted); ``message`` says it without the solution's value."""
    kind: str
    message: str

    @classmethod
    def raised(cls, error: Exception, doing: str) -> "Problem":
        """The problem when the student's code raised while ``doing`` (e.g. "calling your
        function"): a stub that still raises NotImplementedError is not an attempt."""
        if isinstance(error, NotImplementedError):
            return cls(STUB, f"{doing} raised NotImplementedError: the stub is still there; "
                             "write your code in its place and run the cell again")
        return cls("error", f"{doing} raised {type(error).__name__}: {error}")

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class Slip:
    """A plausible wrong answer and the hint that names it. ``answer`` is, for a number exercise,
    the wrong number or a callable of the reference that gives it; for a function exercise, a
    function with the answer's signature that makes the slip."""
    answer: Any
    hint: str


@dataclass(frozen=True)
class Exercise:
    key: str                              # "01.c3_mask": the chapter, then a name
    tier: int                             # 1, 2 or 3
    statement: str                        # one line, what to compute or build (with the signature)
    kind: str                             # number, tensor, function, module, design, property
    # what the checker compares with (None: designs, properties)
    reference: Optional[Callable[[], Any]]
    # for the checker: tolerances, inputs, build arguments...
    options: dict = field(default_factory=dict)

    @property
    def chapter(self) -> int:
        return int(self.key.split(".", 1)[0])

    @property
    def stars(self) -> str:
        return TIERS[self.tier]


class Entry(NamedTuple):
    """A row of :func:`catalogue`."""
    key: str
    chapter: int
    tier: int
    stars: str
    kind: str
    statement: str


class UnknownExercise(KeyError, ValueError):
    """``check`` was given a key no exercise has; the message lists the valid keys."""

    def __str__(self) -> str:                 # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


EXERCISES: dict[str, Exercise] = {}


def add_exercise(key: str, tier: int, statement: str, kind: str,
                 reference: Optional[Callable[[], Any]],
                 **options) -> Exercise:
    """Add an exercise. Keys are "CC.name" with CC the chapter number (00-09). A number exercise
    names its method (``method=``, the hint for a wrong number that is no registered slip) and its
    slips (``slips=[Slip(...), ...]``, each with its own hint)."""
    chapter, _, name = key.partition(".")
    if not (len(chapter) == 2 and chapter.isdigit() and name):
        raise ValueError(f"exercise keys look like '01.c3_mask' (chapter, dot, name), got {key!r}")
    if tier not in TIERS:
        raise ValueError(f"tier must be 1 (★), 2 (★★) or 3 (★★★), got {tier!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind in ("number", "tensor", "function", "module") and reference is None:
        raise ValueError(f"a {kind} exercise needs a reference to compare with ({key})")
    if kind == "number" and not options.get("method"):
        raise ValueError(f"number exercise {key!r} needs a method hint (method=...)")
    hints = [slip.hint for slip in options.get("slips", ())]
    if len(set(hints)) < len(hints) or options.get("method") in hints:
        raise ValueError(f"exercise {key!r}: every slip needs its own hint")
    if key in EXERCISES:
        raise ValueError(f"exercise {key!r} is registered twice")
    exercise = Exercise(key, tier, statement, kind, reference, dict(options))
    EXERCISES[key] = exercise
    return exercise
