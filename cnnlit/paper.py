"""What a chapter says against what its run shows: paper tables, thresholds, experiment verdicts.

One helper per kind of statement a chapter makes:

- ``compare(rows)``: an architecture against the paper's table (parameters, shapes, multiply-adds).
  Always judged; a mismatch raises :class:`PaperMismatch` with the table in its message.
- ``expect(condition, claim, profiles=...)``: a plain threshold on a trained result, e.g.
  "LeNet-5 ends under 3% test error".
- ``verdict(claim, a, b, expected=...)``: an experiment, A against B over seeds, judged by the
  book's one statistical standard (below) as *shown*, *not shown* or *within the noise*.

>>> ours = 6 * (5 * 5 + 1)                   # C1: 6 maps, a 5x5 kernel and a bias each
>>> table = compare([("C1 parameters", ours, 156)], title="LeNet-5")
>>> v = verdict("the ZF-style first layer gives the higher test accuracy",
...             [0.72, 0.75, 0.71], [0.66, 0.70, 0.65], labels=("ZF-style", "AlexNet-style"),
...             fmt=".1%", expected={"cpu": "shown", "full": "shown"})

**The statistical standard** (taught in chapter 00). Each seed gives one value for A and one for
B. With n seeds, the difference of the means is d = mean(A) - mean(B), and its standard error is
SE = sqrt(s_A² / n + s_B² / n), with s the standard deviation over the seeds (n - 1 in its
denominator). The claim "A is higher than B" is

- *shown* when d > 2·SE and more than half of the seeds have A above B;
- *not shown* when the run points the other way as clearly: d < -2·SE and more than half of the
  seeds have A below B (the run rules the claim out);
- *within the noise* otherwise: the seeds cannot tell the two apart.

"A is lower than B" swaps the signs; "higher by more than m" subtracts m from d and from each
seed's difference first. B may also be one number (a paper's value, or 0), with s_B = 0. One seed
has no spread: its verdict reads "not judged".

**Who a contradicted result stops.** The chapter's text says, per profile, what the run should
show: ``expected={"cpu": "within the noise", "full": "shown"}`` for a verdict,
``profiles=("cpu", "full")`` for an ``expect``. A profile the text says nothing about only
reports. When the run contradicts the text:

- under ``CNNLIT_STRICT=1`` (set by ``make test`` and ``make book``) :class:`ResultCheckFailed`
  is raised, naming the claim: the book does not build with a sentence its own run contradicts;
- otherwise (a student, an instructor) a plain "this run did not show ..." with the numbers and
  the likely reason is printed, and the notebook goes on.

A null result ("within the noise") is never expected in the ``full`` profile, whose scale may
reveal the effect: such an ``expected`` raises ValueError when the cell runs, whatever the profile.
A dry run (``CNNLIT_DRY_RUN=1``: 1 batch, 1 epoch) trains nothing, so it judges nothing:
``expect``, ``verdict`` and ``compare(rows, trained=True)`` print "skipped in a dry run" instead.

**In a chapter**, an experiment takes three cells (predict, run, verdict):

1. Markdown: what to expect, per profile: the direction of the effect, the paper's number and
   setting, and what counts as noise at this profile's scale. This text never depends on the run.
2. Code: the experiment, ending with one value per seed for A and for B.
3. Code: the verdict, whose ``expected`` says what the Markdown says, e.g.::

       verdict("overlapping pooling lowers the test error", errors["overlapping"],
               errors["non-overlapping"], direction="lower", fmt=".1%",
               labels=("overlapping", "non-overlapping"), expected={"cpu": "within the noise"});

   (``full`` left out: a null result is not asserted there, so it only reports; ``smoke`` left
   out: one seed judges nothing.) A sentence that depends on the outcome is the verdict line, not
   a paragraph built in an f-string; interpretation that holds whatever the outcome is Markdown.

Everything prints plain text (no Markdown, hence no math to render).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

from .profiles import DRY_RUN_VARIABLE, PROFILES, STRICT_VARIABLE, dry_run, profile, strict

__all__ = ["Difference", "PaperMismatch", "ResultCheckFailed", "Verdict", "compare", "difference",
           "expect", "judge", "verdict"]

DRY_RUN_SKIP = "skipped in a dry run"
SHOWN, NOT_SHOWN, NOISE = "shown", "not shown", "within the noise"
OUTCOMES = (SHOWN, NOT_SHOWN, NOISE)
NOT_JUDGED = "not judged"          # one seed, or a dry run: never a chapter's expectation


class PaperMismatch(AssertionError):
    """A reproduced number differs from the paper's beyond its stated tolerance."""


class ResultCheckFailed(AssertionError):
    """A trained result (a threshold, an experiment's verdict) contradicts the chapter's text."""


# ----------------------------------------------------------------------- the statistical standard

@dataclass(frozen=True)
class Difference:
    """A against B over seeds: the numbers the standard reads (``b_std`` is 0 for one number)."""

    a_mean: float
    b_mean: float
    a_std: float
    b_std: float
    per_seed: tuple          # a_i - b_i, seed by seed
    value: float             # mean(A) - mean(B)
    se: float                # standard error of ``value``; nan with one seed
    reference: bool = False  # B is one number (a paper's value, 0), not one value per seed

    @property
    def seeds(self) -> int:
        return len(self.per_seed)


def _numbers(values, what: str) -> list:
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be one number per seed (a list, array, tensor or Series); "
                         f"got {values!r}") from None
    if not numbers:
        raise ValueError(f"{what} is empty: give one value per seed")
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"{what} holds {numbers}: a run that diverged has no value to compare")
    return numbers


def _std(values: list) -> float:
    """Standard deviation over the seeds, with n - 1 in the denominator; nan for one seed."""
    n = len(values)
    if n < 2:
        return math.nan
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def difference(a, b) -> Difference:
    """The standard's numbers for A against B: ``a`` one value per seed; ``b`` the same seeds'
    values (paired, in the same order) or one number (a reference such as the paper's value, 0)."""
    a_values = _numbers(a, "a")
    reference = getattr(b, "ndim", None) == 0 or isinstance(b, (int, float))
    if reference:
        b_values, b_std = [float(b)] * len(a_values), 0.0
        if not math.isfinite(b_values[0]):
            raise ValueError(f"b = {b!r}: the reference must be a finite number")
    else:
        b_values = _numbers(b, "b")
        if len(b_values) != len(a_values):
            raise ValueError(f"a has {len(a_values)} values and b {len(b_values)}: the standard "
                             "pairs them seed by seed, so give both for the same seeds")
        b_std = _std(b_values)
    n = len(a_values)
    a_std = _std(a_values)
    se = math.sqrt((a_std ** 2 + b_std ** 2) / n) if n > 1 else math.nan
    a_mean, b_mean = sum(a_values) / n, sum(b_values) / n
    return Difference(a_mean=a_mean, b_mean=b_mean, a_std=a_std, b_std=b_std,
                      per_seed=tuple(x - y for x, y in zip(a_values, b_values)),
                      value=a_mean - b_mean, se=se, reference=reference)


def _check_claim(direction: str, margin: float) -> None:
    """A claim is "A is higher" or "A is lower" than B, by a margin of at least 0."""
    if direction not in ("higher", "lower"):
        raise ValueError(f"direction={direction!r}: the claim is that A is 'higher' or 'lower' "
                         "than B")
    if not margin >= 0:
        raise ValueError(f"margin={margin!r}: 'by more than margin' needs margin >= 0")


def judge(diff: Difference, *, direction: str = "higher", margin: float = 0.0) -> tuple:
    """The standard's outcome for "A is ``direction`` than B by more than ``margin``":
    (outcome, the number of seeds that agree with the claim)."""
    _check_claim(direction, margin)
    sign = 1 if direction == "higher" else -1
    effect = sign * diff.value - margin
    agree = sum(sign * d - margin > 0 for d in diff.per_seed)
    against = sum(sign * d - margin < 0 for d in diff.per_seed)
    if diff.seeds < 2:
        return NOT_JUDGED, agree
    if effect > 2 * diff.se and agree > diff.seeds / 2:
        return SHOWN, agree
    if effect < -2 * diff.se and against > diff.seeds / 2:
        return NOT_SHOWN, agree
    return NOISE, agree


# ----------------------------------------------------------------------- verdicts

@dataclass(frozen=True)
class Verdict:
    """One experiment's verdict; ``print(v)`` shows its report again."""

    claim: str
    outcome: str                          # shown / not shown / within the noise / not judged
    difference: Optional[Difference]      # None in a dry run
    agree: int                            # seeds whose own difference agrees with the claim
    direction: str
    margin: float
    labels: tuple
    fmt: str
    profile: str
    expected: Optional[tuple]             # what the text says for this profile; None: nothing

    @property
    def contradicts(self) -> bool:
        """The run contradicts the text for this profile (never in a dry run)."""
        return (self.expected is not None and self.difference is not None
                and self.outcome not in self.expected)

    def _number(self, value: float, sign: bool = False) -> str:
        return format(value, ("+" if sign else "") + self.fmt)

    def report(self) -> str:
        d, (a, b) = self.difference, self.labels
        if d is None:
            return (f"{DRY_RUN_SKIP} ({DRY_RUN_VARIABLE}=1: trained for only a few batches): "
                    f"{self.claim}")
        width = max(len(a), len(b), len("difference"))

        def spread(std):
            return "" if d.seeds < 2 else f" ± {self._number(std)}"

        b_line = f"  {b:<{width}}  {self._number(d.b_mean)}" + (
            " (one number)" if d.reference else spread(d.b_std))
        margin = f" by more than {self._number(self.margin)}" if self.margin else ""
        lines = [f"claim: {self.claim}",
                 f"  {a:<{width}}  {self._number(d.a_mean)}{spread(d.a_std)}   "
                 + ("(one seed)" if d.seeds < 2 else
                    f"(mean ± standard deviation over {d.seeds} seeds)"),
                 b_line]
        if d.seeds < 2:
            lines.append(f"  {'difference':<{width}}  {self._number(d.value, True)}; one seed "
                         "has no spread to measure the noise against")
        else:
            lines.append(f"  {'difference':<{width}}  {self._number(d.value, True)}, 2·SE "
                         f"{self._number(2 * d.se)}; {self.agree} of {d.seeds} seeds have {a} "
                         f"{self.direction}{margin}")
        lines.append(f"verdict: {self.outcome}{self._why()}")
        return "\n".join(lines)

    def _why(self) -> str:
        d = self.difference
        if self.outcome == SHOWN:
            return " (the difference passes 2·SE and most seeds agree)"
        if self.outcome == NOT_SHOWN:
            return " (the run points the other way, beyond 2·SE, in most seeds)"
        if self.outcome == NOISE:
            threshold = self.margin if self.direction == "higher" else -self.margin
            if abs(d.value - threshold) <= 2 * d.se:
                return (f" (the difference is within 2·SE of {self._number(threshold, True)})"
                        if self.margin else " (the difference is less than 2·SE)")
            return " (beyond 2·SE, but the seeds split)"
        return " (one seed)"

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        return f"Verdict({self.outcome!r}: {self.claim!r})"


def _expected_outcomes(expected: Optional[Mapping]) -> dict:
    """Validate ``expected`` ({profile: outcome or outcomes}); refuse a null result in ``full``."""
    if expected is None:
        return {}
    if not isinstance(expected, Mapping):
        raise ValueError("expected= is per profile, e.g. {'cpu': 'within the noise', 'full': "
                         "'shown'}: a profile the text says nothing about only reports")
    chosen = {}
    for name, outcomes in expected.items():
        if name not in PROFILES:
            raise ValueError(f"expected= names profile {name!r}; the profiles are "
                             f"{', '.join(PROFILES)}")
        outcomes = (outcomes,) if isinstance(outcomes, str) else tuple(outcomes)
        if not outcomes or any(o not in OUTCOMES for o in outcomes):
            raise ValueError(f"expected[{name!r}] = {expected[name]!r}: each outcome is one of "
                             f"{', '.join(map(repr, OUTCOMES))}")
        if name == "full" and NOISE in outcomes and SHOWN not in outcomes:
            raise ValueError("a null result is never asserted in the full profile: its scale may "
                             f"show the effect (expected['full'] = {expected[name]!r}). Leave "
                             "'full' out (it then only reports) or accept 'shown' too")
        chosen[name] = outcomes
    return chosen


def _likely_reason(outcome: str, diff: Optional[Difference], running: str, fmt: str) -> str:
    if diff is not None and diff.seeds < 2:
        return "with one seed the standard cannot measure the noise; the claim needs two or more"
    if outcome == NOISE:
        return (f"{diff.seeds} seeds at the {running} profile's scale resolve differences above "
                f"{format(2 * diff.se, fmt)}; a smaller effect needs more seeds, or the longer "
                "training and larger data of the full profile")
    if outcome == NOT_SHOWN:
        return ("the run points the other way beyond the noise; a changed setting (data, epochs, "
                "seeds, learning rate) is the first thing to check")
    if outcome == SHOWN:
        return ("the effect stood out of the noise in this run, where the text expects it not to "
                f"at the {running} profile's scale; other seeds or a changed setting can do that")
    if running == "full":
        return ("the full profile still trains far below the paper's scale; a changed setting "
                "(data, epochs, seeds, learning rate) is the other suspect")
    return (f"the {running} profile trains on fewer images, for fewer epochs, than the full "
            "profile; a changed setting is the other suspect")


def _contradicted(message: str, numbers: str = "") -> None:
    """Under ``CNNLIT_STRICT=1`` (the book's build and tests) raise; otherwise say it, go on."""
    if strict():
        lines = [message, numbers, f"({STRICT_VARIABLE}=1: the book is not built with a sentence "
                                   "its own run contradicts)"]
        raise ResultCheckFailed("\n".join(line for line in lines if line))
    print(message)


def verdict(claim: str, a, b, *, expected: Optional[Mapping] = None, direction: str = "higher",
            margin: float = 0.0, labels: Sequence[str] = ("A", "B"), fmt: str = ".3g",
            reason: Optional[str] = None) -> Verdict:
    """Judge "``a`` is ``direction`` than ``b`` (by more than ``margin``)" by the book's standard;
    print the numbers and a one-line verdict; return the :class:`Verdict`.

    ``a``, ``b``: one value per seed, the same seeds in the same order (``b`` may be one number).
    ``expected``: what the chapter's text says for each profile, e.g. ``{"cpu": "shown",
    "full": "shown"}``; an outcome or a tuple of accepted ones; profiles left out only report.
    ``labels``: the names of A and B; ``fmt``: a format spec for their values (".1%" for
    accuracies). ``reason``: the likely reason to print when the run contradicts the text (by
    default one derived from the outcome, the profile and the seeds).

    End the line with ``;`` when it is a cell's last, or the returned object's one-line form
    follows the report.
    """
    if not isinstance(claim, str) or not claim.strip():
        raise ValueError("verdict() needs the claim in words, e.g. 'dropout narrows the gap'")
    _check_claim(direction, margin)                 # before a dry run returns
    if len(labels) != 2:
        raise ValueError(f"labels={labels!r}: give the names of A and B")
    outcomes = _expected_outcomes(expected)          # refused in every profile, dry runs included
    running = profile().name
    common = dict(claim=claim, direction=direction, margin=float(margin), labels=tuple(labels),
                  fmt=fmt, profile=running, expected=outcomes.get(running))
    if dry_run():
        result = Verdict(outcome=NOT_JUDGED, difference=None, agree=0, **common)
        print(result.report())
        return result
    diff = difference(a, b)
    outcome, agree = judge(diff, direction=direction, margin=float(margin))
    result = Verdict(outcome=outcome, difference=diff, agree=agree, **common)
    print(result.report())
    if result.contradicts:
        said = " or ".join(f"'{o}'" for o in result.expected)
        _contradicted(f"this run did not show what the chapter says for the {running} profile: "
                      f"it expects {said} for \"{claim}\", this run gives '{outcome}'.\n"
                      f"Likely reason: {reason or _likely_reason(outcome, diff, running, fmt)}.",
                      result.report())
    return result


# ----------------------------------------------------------------------- thresholds

def expect(condition, claim: str, *, profiles: Optional[Iterable[str]] = None,
           reason: Optional[str] = None) -> bool:
    """Check a plain threshold on a trained result, e.g. ``expect(result.accuracy > 0.85,
    "the tiny network passes 85% test accuracy", profiles=("cpu", "full"))``.

    ``profiles``: where the chapter's text states it (None: every profile). Returns whether it
    holds; silent when it does. When it does not, in a stated profile: :class:`ResultCheckFailed`
    naming the claim under ``CNNLIT_STRICT=1``, a printed "this run did not show ..." otherwise;
    in another profile, a report only. A dry run judges nothing: one line says so, False returned.
    """
    if not isinstance(claim, str) or not claim.strip():
        raise ValueError("expect() needs the claim in words, e.g. 'LeNet-5 reaches under 2% "
                         "test error'")
    if profiles is None:
        stated = tuple(PROFILES)
    else:
        stated = (profiles,) if isinstance(profiles, str) else tuple(profiles)
    if not stated or any(name not in PROFILES for name in stated):
        raise ValueError(f"profiles={profiles!r}: the profiles are {', '.join(PROFILES)}")
    if dry_run():
        print(f"{DRY_RUN_SKIP} ({DRY_RUN_VARIABLE}=1: trained for only a few batches): {claim}")
        return False
    if bool(condition):
        return True
    running = profile().name
    if running not in stated:
        print(f"does not hold in this {running}-profile run (the text states it for "
              f"{', '.join(stated)} only): {claim}")
        return False
    _contradicted(f"this run did not show: {claim}. Likely reason: "
                  f"{reason or _likely_reason('', None, running, '')}.")
    return False


# ----------------------------------------------------------------------- paper tables

def _matches(ours, paper, tolerance: float) -> bool:
    if isinstance(paper, str) or isinstance(ours, str):
        return str(ours) == str(paper)
    if isinstance(paper, (tuple, list)):
        return len(ours) == len(paper) and all(_matches(a, b, tolerance)
                                               for a, b in zip(ours, paper))
    # relative to the paper's value; exact rows still forgive float32 rounding noise (1e-6)
    return abs(float(ours) - float(paper)) <= max(tolerance, 1e-6) * abs(float(paper))


def _shown(value):
    """Whole floats such as 6.8e6 display as integers; everything else as given."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
        return int(value)
    return value


def compare(rows: Iterable[Sequence], *, title: str = "", tolerance: float = 0.0,
            trained: bool = False):
    """Build the side-by-side table; raise :class:`PaperMismatch` if any row differs.

    Each row is (quantity, ours, paper) or (quantity, ours, paper, relative tolerance): a fraction
    of the paper's value, on either side (0.05 accepts 95 to 105 against 100). The table
    is returned as a DataFrame when every row matches. ``trained=True`` marks rows that are
    results of training (errors, accuracies): in a dry run their ``match`` column reads "skipped
    in a dry run" and nothing is raised. Architecture tables leave it False.
    """
    import pandas as pd

    skipped = trained and dry_run()
    name = title or "reproduced table"
    records = []
    for row in rows:
        if len(row) not in (3, 4):
            raise ValueError(f"each row is (quantity, ours, paper[, tolerance]); got {row!r}")
        quantity, ours, paper = row[:3]
        row_tolerance = row[3] if len(row) == 4 else tolerance
        match = (DRY_RUN_SKIP if skipped                 # a dry run's numbers are not judged
                 else "✓" if _matches(ours, paper, row_tolerance) else "✗")
        records.append({"quantity": quantity, "ours": _shown(ours), "paper": _shown(paper),
                        "tolerance": f"±{row_tolerance * 100:g}%" if row_tolerance else "exact",
                        "match": match})
    if not records:
        raise ValueError(f"{name}: compare() needs at least one row (quantity, ours, paper)")
    frame = pd.DataFrame(records, dtype=object)        # keep 156 as 156, not 156.0
    if title:
        frame.attrs["title"] = title
    if skipped:
        print(f"{name}: {DRY_RUN_SKIP} ({DRY_RUN_VARIABLE}=1), the numbers are not judged")
    if (frame["match"] == "✗").any():
        raise PaperMismatch(f"{name} differs from the paper:\n{frame.to_string(index=False)}")
    return frame
