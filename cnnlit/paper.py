"""Reproduced-vs-published tables that fail loudly.

    compare([("C1 parameters", ours, 156), ("total", ours_total, 6.8e6, 0.05)], title="LeNet-5")

Each row is (quantity, ours, paper) or (quantity, ours, paper, relative tolerance). The table is returned
as a DataFrame when every row matches; otherwise :class:`PaperMismatch` is raised with the table in its
message, so a notebook cell (and nbval, and the book build) stops on the spot.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence


class PaperMismatch(AssertionError):
    """A reproduced number differs from the paper's beyond its stated tolerance."""


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


def compare(rows: Iterable[Sequence], *, title: str = "", tolerance: float = 0.0):
    """Build the side-by-side table; raise :class:`PaperMismatch` if any row differs."""
    import pandas as pd

    records = []
    for row in rows:
        if len(row) not in (3, 4):
            raise ValueError(f"each row is (quantity, ours, paper[, tolerance]); got {row!r}")
        quantity, ours, paper = row[:3]
        row_tolerance = row[3] if len(row) == 4 else tolerance
        records.append({"quantity": quantity, "ours": _shown(ours), "paper": _shown(paper),
                        "tolerance": f"±{row_tolerance * 100:g}%" if row_tolerance else "exact",
                        "match": "✓" if _matches(ours, paper, row_tolerance) else "✗"})
    frame = pd.DataFrame(records, dtype=object)        # keep 156 as 156, not 156.0
    if title:
        frame.attrs["title"] = title
    if (frame["match"] == "✗").any():
        raise PaperMismatch(f"{title or 'reproduced table'} differs from the paper:\n{frame.to_string(index=False)}")
    return frame
