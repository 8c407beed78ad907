"""Reproduced-vs-published tables that fail loudly.

>>> ours = 6 * (5 * 5 + 1)                   # C1: 6 maps, a 5x5 kernel and a bias each
>>> table = compare([("C1 parameters", ours, 156), ("C1 parameters, within 5%", ours + 5, 156, 0.05)],
...                 title="LeNet-5")

Each row is (quantity, ours, paper) or (quantity, ours, paper, relative tolerance). The table is returned
as a DataFrame when every row matches; otherwise :class:`PaperMismatch` is raised with the table in its
message, so a notebook cell (and nbval, and the book build) stops on the spot.

Two kinds of check, kept apart because a dry run (``CNNLIT_DRY_RUN=1``: 2 batches, 1 epoch) trains nothing:

- architecture (parameters, shapes, multiply-adds): ``compare(rows)`` always runs and always fails loudly;
- results that only hold after real training (an accuracy threshold, a claim about an experiment):
  ``expect(condition, claim)`` or ``compare(rows, trained=True)``; in a dry run they print
  "skipped in a dry run" instead of failing.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

from .profiles import DRY_RUN_VARIABLE, dry_run

__all__ = ["PaperMismatch", "ResultCheckFailed", "compare", "expect"]

DRY_RUN_SKIP = "skipped in a dry run"


class PaperMismatch(AssertionError):
    """A reproduced number differs from the paper's beyond its stated tolerance."""


class ResultCheckFailed(AssertionError):
    """A claim about a trained result (an accuracy threshold, the outcome of an experiment) does not hold."""


def expect(condition, claim: str) -> bool:
    """Check a claim about a trained result, e.g.
    ``expect(result.accuracy > 0.85, "the tiny network reaches 85% test accuracy")``.

    Silent (returns True) when it holds; raises :class:`ResultCheckFailed` naming the claim when it does not.
    In a dry run the weights are barely trained, so the claim is not judged: one line says it was
    skipped and False is returned.
    """
    if not isinstance(claim, str) or not claim.strip():
        raise ValueError("expect() needs the claim in words, e.g. 'LeNet-5 reaches under 2% test error'")
    if dry_run():
        print(f"{DRY_RUN_SKIP} ({DRY_RUN_VARIABLE}=1: trained for only a few batches): {claim}")
        return False
    if not bool(condition):
        raise ResultCheckFailed(f"this does not hold: {claim}")
    return True


def _matches(ours, paper, tolerance: float) -> bool:
    if isinstance(paper, str) or isinstance(ours, str):
        return str(ours) == str(paper)
    if isinstance(paper, (tuple, list)):
        return len(ours) == len(paper) and all(_matches(a, b, tolerance) for a, b in zip(ours, paper))
    # exact rows still forgive float32 rounding noise (1e-6 relative)
    return math.isclose(float(ours), float(paper), rel_tol=max(tolerance, 1e-6), abs_tol=0.0)


def _shown(value):
    """Whole floats such as 6.8e6 display as integers; everything else as given."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
        return int(value)
    return value


def compare(rows: Iterable[Sequence], *, title: str = "", tolerance: float = 0.0, trained: bool = False):
    """Build the side-by-side table; raise :class:`PaperMismatch` if any row differs.

    ``trained=True`` marks rows that are results of training (errors, accuracies): in a dry run their
    ``match`` column reads "skipped in a dry run" and nothing is raised. Architecture tables leave it False.
    """
    import pandas as pd

    skipped = trained and dry_run()
    records = []
    for row in rows:
        if len(row) not in (3, 4):
            raise ValueError(f"each row is (quantity, ours, paper[, tolerance]); got {row!r}")
        quantity, ours, paper = row[:3]
        row_tolerance = row[3] if len(row) == 4 else tolerance
        records.append({"quantity": quantity, "ours": _shown(ours), "paper": _shown(paper),
                        "tolerance": f"±{row_tolerance * 100:g}%" if row_tolerance else "exact",
                        "match": DRY_RUN_SKIP if skipped else "✓" if _matches(ours, paper, row_tolerance) else "✗"})
    frame = pd.DataFrame(records, dtype=object)        # keep 156 as 156, not 156.0
    if title:
        frame.attrs["title"] = title
    if skipped:
        print(f"{title or 'reproduced table'}: {DRY_RUN_SKIP} ({DRY_RUN_VARIABLE}=1), the numbers are not judged")
    if (frame["match"] == "✗").any():
        raise PaperMismatch(f"{title or 'reproduced table'} differs from the paper:\n{frame.to_string(index=False)}")
    return frame
