import pytest

from cnnlit.paper import PaperMismatch, compare


def test_matching_rows_give_a_table():
    table = compare([("C1 parameters", 156, 156), ("total", 6.9e6, 6.8e6, 0.05), ("shape", (1, 6), [1, 6])])
    assert table.match.tolist() == ["✓", "✓", "✓"]
    assert table.tolerance.tolist() == ["exact", "±5%", "exact"]


def test_a_mismatch_fails_loudly_with_the_table():
    with pytest.raises(PaperMismatch, match=r"LeNet-5 differs from the paper:(.|\n)*C3 parameters +1517 +1516"):
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
