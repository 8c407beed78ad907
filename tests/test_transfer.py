"""Chapter 08's figures: each draws the data it is given, with its title and labelled axes."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cnnlit.chapters import transfer  # noqa: E402


def test_plot_trainable_draws_a_trained_and_a_frozen_bar_per_way():
    counts = {"linear probe": (325, 77_850), "fine-tune": (78_175, 0), "scratch": (78_175, 0)}
    figure = transfer.plot_trainable(counts)
    axis = figure.axes[0]
    widths = [bar.get_width() for bar in axis.patches]
    assert widths == [325, 78_175, 78_175, 77_850, 0, 0]      # the trained bars, then the frozen
    assert [t.get_text() for t in axis.get_yticklabels()] == list(counts)
    assert axis.get_xscale() == "log" and "parameters" in axis.get_xlabel()
    assert axis.get_ylabel() and axis.get_title()
    plt.close(figure)
    with pytest.raises(ValueError):
        transfer.plot_trainable({})


def test_plot_validation_curves_draws_every_seed_and_the_mean():
    curves = {"linear probe": [[0.2, 0.5, 0.6], [0.3, 0.5, 0.7]], "scratch": [[0.2, 0.2, 0.4]]}
    figure = transfer.plot_validation_curves(curves, title="curves")
    axis = figure.axes[0]
    assert len(axis.lines) == 2 + 1 + 1 + 1                    # seeds, then each way's mean
    assert list(axis.lines[2].get_ydata()) == pytest.approx([25, 50, 65])
    assert list(axis.lines[2].get_xdata()) == [1, 2, 3]
    assert axis.get_xlabel() == "epoch" and "validation accuracy" in axis.get_ylabel()
    assert axis.get_title() == "curves"
    plt.close(figure)


def test_plot_accuracy_vs_labels_draws_one_line_per_way_in_label_order():
    accuracy = {"fine-tune": {20: 0.8, 5: 0.6, 2: 0.4}, "scratch": {2: 0.3, 5: 0.4, 20: 0.7}}
    figure = transfer.plot_accuracy_vs_labels(accuracy)
    axis = figure.axes[0]
    assert len(axis.lines) == 2
    assert list(axis.lines[0].get_xdata()) == [2, 5, 20]
    assert list(axis.lines[0].get_ydata()) == pytest.approx([40, 60, 80])
    assert "per class" in axis.get_xlabel() and "test accuracy" in axis.get_ylabel()
    assert axis.get_title()
    plt.close(figure)
