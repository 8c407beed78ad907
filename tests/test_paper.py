import math

import pytest

from cnnlit import paper
from cnnlit.paper import PaperMismatch, compare
from cnnlit.profiles import DRY_RUN_VARIABLE, PROFILE_VARIABLE, STRICT_VARIABLE


def test_matching_rows_give_a_table():
    table = compare([("C1 parameters", 156, 156), ("total", 6.9e6, 6.8e6, 0.05),
                     ("shape", (1, 6), [1, 6])])
    assert table.match.tolist() == ["✓", "✓", "✓"]
    assert table.tolerance.tolist() == ["exact", "±5%", "exact"]


def test_a_mismatch_fails_loudly_with_the_table():
    with pytest.raises(PaperMismatch, match=r"LeNet-5 differs from the paper:(.|\n)*C3 parameters "
                                            r"+1517 +1516"):
        compare([("C1 parameters", 156, 156), ("C3 parameters", 1517, 1516)], title="LeNet-5")
    with pytest.raises(PaperMismatch):
        compare([("total", 7.2e6, 6.8e6, 0.05)])


def test_float_noise_is_not_a_mismatch_but_a_real_difference_is():
    compare([("top-5 error", 1 - 0.800000011920929, 0.2)])
    with pytest.raises(PaperMismatch):
        compare([("top-5 error", 0.2001, 0.2)])


def test_malformed_rows_are_refused():
    with pytest.raises(ValueError, match="quantity, ours, paper"):
        compare([("only two", 1)])


# ----------------------------------------------------------------------- the statistical standard

# Three seeds, worked by hand (the example chapter 00 teaches with):
#   A = 0.70, 0.74, 0.72: mean 0.72, deviations -0.02, +0.02, 0   -> s_A² = 0.0008 / 2 = 0.0004
#   B = 0.65, 0.69, 0.64: mean 0.66, deviations -0.01, +0.03, -0.02 -> s_B² = 0.0014 / 2 = 0.0007
#   SE = sqrt((0.0004 + 0.0007) / 3) = 0.019149; d = 0.06 > 2·SE = 0.038297
#   per seed: +0.05, +0.05, +0.08, all three A above B
A, B = [0.70, 0.74, 0.72], [0.65, 0.69, 0.64]
CLAIM = "the ZF-style first layer gives the higher test accuracy"


@pytest.fixture
def run(monkeypatch):
    """A real (not dry) run in the cpu profile, outside the book's build; tests add the rest."""
    monkeypatch.setenv(PROFILE_VARIABLE, "cpu")
    monkeypatch.delenv(DRY_RUN_VARIABLE, raising=False)
    monkeypatch.delenv(STRICT_VARIABLE, raising=False)
    return monkeypatch


def test_the_standard_against_a_hand_computed_example():
    d = paper.difference(A, B)
    assert (d.a_mean, d.b_mean, d.value) == pytest.approx((0.72, 0.66, 0.06))
    assert d.a_std == pytest.approx(0.02) and d.b_std == pytest.approx(math.sqrt(0.0007))
    assert d.se == pytest.approx(math.sqrt(0.0011 / 3))
    assert d.se == pytest.approx(0.019149, abs=1e-6)
    assert d.per_seed == pytest.approx((0.05, 0.05, 0.08)) and d.seeds == 3
    assert paper.judge(d) == (paper.SHOWN, 3)
    assert paper.judge(d, direction="lower") == (paper.NOT_SHOWN, 0)   # the reverse: ruled out
    # "higher by more than 0.03": 0.06 - 0.03 = 0.03 < 2·SE = 0.0383, though every seed passes 0.03
    assert paper.judge(d, margin=0.03) == (paper.NOISE, 3)
    assert paper.judge(d, margin=0.02) == (paper.SHOWN, 3)                # 0.04 > 0.0383


def test_within_the_noise_when_the_difference_is_under_two_standard_errors():
    # A = 0.70, 0.80, 0.60 (s_A = 0.1), B = 0.68, 0.62, 0.66 (s_B = 0.0306):
    # d = 0.0467, 2·SE = 0.1207
    d = paper.difference([0.70, 0.80, 0.60], [0.68, 0.62, 0.66])
    assert d.value == pytest.approx(0.046667, abs=1e-6)
    assert d.se == pytest.approx(math.sqrt((0.01 + 0.0028 / 3) / 3))          # s_B² = 0.0028 / 3
    assert paper.judge(d) == (paper.NOISE, 2)                   # 2 of 3 seeds agree, still noise


def test_seeds_that_split_keep_a_large_difference_in_the_noise():
    # Seven seeds against 0: three at 1 drive d = 0.423 past 2·SE = 0.406, but 4 of 7 are below 0
    d = paper.difference([1, 1, 1, -0.01, -0.01, -0.01, -0.01], 0)
    assert d.value == pytest.approx(2.96 / 7) and d.value > 2 * d.se
    assert paper.judge(d) == (paper.NOISE, 3)
    assert paper.judge(d, direction="lower") == (paper.NOISE, 4)         # nor the other way: d > 0


def test_a_reference_number_has_no_spread_and_one_seed_is_not_judged():
    d = paper.difference([2.1, 3.5, 2.8], 1.0)
    assert d.reference and d.b_std == 0 and d.se == pytest.approx(0.7 / math.sqrt(3))
    assert paper.judge(d) == (paper.SHOWN, 3)
    one = paper.difference([0.9], [0.8])
    assert math.isnan(one.se) and paper.judge(one)[0] == paper.NOT_JUDGED


def test_bad_values_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="same seeds"):
        paper.difference([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="diverged"):
        paper.difference([1, float("nan")], [1, 2])
    with pytest.raises(ValueError, match="one number per seed"):
        paper.difference("abc", [1, 2, 3])


# --------------------------------------------------------------------------- verdicts

def test_the_verdict_prints_the_numbers_and_one_line(run, capsys):
    v = paper.verdict(CLAIM, A, B, labels=("ZF-style", "AlexNet-style"), fmt=".1%",
                      expected={"cpu": "shown", "full": "shown"})
    out = capsys.readouterr().out
    assert v.outcome == paper.SHOWN and not v.contradicts and v.agree == 3
    assert f"claim: {CLAIM}" in out
    assert "ZF-style       72.0% ± 2.0%" in out and "AlexNet-style  66.0% ± 2.6%" in out
    assert "difference     +6.0%, 2·SE 3.8%; 3 of 3 seeds have ZF-style higher" in out
    assert out.strip().splitlines()[-1].startswith("verdict: shown")


def test_a_contradicted_verdict_fails_the_build_naming_the_claim(run):
    run.setenv(STRICT_VARIABLE, "1")
    with pytest.raises(paper.ResultCheckFailed, match="gives 'shown'") as failure:
        paper.verdict(CLAIM, A, B, expected={"cpu": "within the noise"})
    assert CLAIM in str(failure.value) and "2·SE" in str(failure.value)
    with pytest.raises(paper.ResultCheckFailed, match=CLAIM):
        paper.verdict(CLAIM, B, A, expected={"cpu": "shown"})              # reversed: 'not shown'


def test_a_contradicted_verdict_only_displays_for_a_reader(run, capsys):
    v = paper.verdict(CLAIM, B, A, expected={"cpu": ("shown", "within the noise")})
    out = capsys.readouterr().out
    assert v.outcome == paper.NOT_SHOWN and v.contradicts
    assert "this run did not show what the chapter says for the cpu profile" in out
    assert "this run gives 'not shown'" in out and "Likely reason:" in out
    run.setenv(STRICT_VARIABLE, "0")
    assert paper.verdict(CLAIM, B, A, expected={"cpu": "shown"}).contradicts


def test_a_profile_the_text_says_nothing_about_only_reports(run, capsys):
    run.setenv(STRICT_VARIABLE, "1")
    v = paper.verdict(CLAIM, B, A, expected={"full": "shown"})      # nothing stated for cpu
    assert v.outcome == paper.NOT_SHOWN and v.expected is None and not v.contradicts
    assert "did not show" not in capsys.readouterr().out
    run.setenv(PROFILE_VARIABLE, "smoke")                           # one seed, nothing stated
    assert paper.verdict(CLAIM, [0.5], [0.4]).outcome == paper.NOT_JUDGED
    with pytest.raises(paper.ResultCheckFailed, match="one seed"):  # one seed backs no claim
        paper.verdict(CLAIM, [0.5], [0.4], expected={"smoke": "shown"})


def test_a_null_result_is_never_asserted_in_the_full_profile(run):
    for null in ("within the noise", ("within the noise", "not shown")):
        with pytest.raises(ValueError, match="null result is never asserted in the full profile"):
            paper.verdict(CLAIM, A, B, expected={"cpu": "within the noise", "full": null})
    run.setenv(DRY_RUN_VARIABLE, "1")             # refused in a dry run too: `make test` sees it
    with pytest.raises(ValueError, match="null result"):
        paper.verdict(CLAIM, A, B, expected={"full": "within the noise"})
    paper.verdict(CLAIM, A, B, expected={"full": ("shown", "within the noise")})  # not a null


def test_a_dry_run_never_judges(run, capsys):
    run.setenv(STRICT_VARIABLE, "1")
    run.setenv(DRY_RUN_VARIABLE, "1")
    v = paper.verdict(CLAIM, B, A, expected={"cpu": "shown"})
    assert v.outcome == paper.NOT_JUDGED and not v.contradicts
    assert capsys.readouterr().out.startswith(f"skipped in a dry run ({DRY_RUN_VARIABLE}=1")
    assert paper.expect(False, "the tiny network passes 85% test accuracy") is False


def test_malformed_expectations_are_refused(run):
    with pytest.raises(ValueError, match="per profile"):
        paper.verdict(CLAIM, A, B, expected="shown")
    with pytest.raises(ValueError, match="profile 'laptop'"):
        paper.verdict(CLAIM, A, B, expected={"laptop": "shown"})
    with pytest.raises(ValueError, match="each outcome is one of"):
        paper.verdict(CLAIM, A, B, expected={"cpu": "significant"})
    with pytest.raises(ValueError, match="'higher' or 'lower'"):
        paper.verdict(CLAIM, A, B, direction="up")


# --------------------------------------------------------------------------- thresholds

def test_expect_fails_the_build_but_only_displays_for_a_reader(run, capsys):
    claim = "LeNet-5 ends under 3% test error"
    assert paper.expect(0.012 < 0.03, claim, profiles=("cpu", "full")) is True
    assert capsys.readouterr().out == ""
    assert paper.expect(0.041 < 0.03, claim, profiles=("cpu", "full")) is False
    assert capsys.readouterr().out.startswith(f"this run did not show: {claim}. Likely reason:")
    run.setenv(STRICT_VARIABLE, "1")
    with pytest.raises(paper.ResultCheckFailed, match=claim):
        paper.expect(0.041 < 0.03, claim, profiles=("cpu", "full"))
    assert paper.expect(0.041 < 0.03, claim, profiles=("full",)) is False  # not stated for cpu
    assert "the text states it for full only" in capsys.readouterr().out
    with pytest.raises(ValueError, match="the profiles are"):
        paper.expect(True, claim, profiles=("gpu",))


def test_a_tolerance_is_a_fraction_of_the_papers_value_on_either_side():
    assert compare([("x", 104.9, 100, 0.05), ("y", 95.1, 100, 0.05)]) is not None
    for ours in (105.2, 94.9):                   # 5.2% and 5.1% of the paper's 100
        with pytest.raises(PaperMismatch):
            compare([("x", ours, 100, 0.05)])
    with pytest.raises(PaperMismatch):
        compare([("zero in the paper", 1e-9, 0)])


def test_compare_without_rows_and_judge_with_a_misspelt_direction_are_refused():
    with pytest.raises(ValueError, match="at least one row"):
        compare([], title="an empty table")
    diff = paper.difference([0.90, 0.91, 0.92], [0.50, 0.51, 0.52])
    assert paper.judge(diff, direction="higher")[0] == paper.SHOWN
    with pytest.raises(ValueError, match="'higher' or 'lower'"):
        paper.judge(diff, direction="Higher")
    with pytest.raises(ValueError, match="margin"):
        paper.judge(diff, margin=-0.1)
