"""Chapter 00's figures (cnnlit.chapters.foundations) draw the data they are given."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch

from cnnlit.chapters import foundations


def test_quadratic_is_half_the_curvature_weighted_squares():
    w = torch.tensor([[2.0, 1.0], [0.0, 0.0]])
    assert foundations.quadratic(w, (1.0, 100.0)).tolist() == [0.5 * (4 + 100), 0.0]


def test_split_figure_draws_one_bar_per_set_with_its_count():
    sizes = {"training": 7200, "validation": 800, "test": 2000}
    figure = foundations.plot_split(sizes, title="three jobs")
    axis = figure.axes[0]
    assert [bar.get_width() for bar in axis.patches] == [7200, 800, 2000]
    assert [label.get_text() for label in axis.get_yticklabels()] == list(sizes)
    assert axis.get_xlabel() == "images" and axis.get_title() == "three jobs"
    assert any("800 images" in text.get_text() for text in axis.texts)
    plt.close(figure)


def test_paths_figure_draws_each_path_and_its_loss():
    path = torch.tensor([[-2.0, 1.0], [-1.0, -0.5], [0.0, 0.0]])
    figure = foundations.plot_paths({"plain": path, "momentum": path / 2}, curvatures=(1.0, 20.0))
    left, right = figure.axes
    assert list(left.lines[0].get_xdata()) == [-2.0, -1.0, 0.0]
    assert right.lines[0].get_ydata()[0] == pytest.approx(0.5 * (4 + 20))
    assert len(right.lines) == 2 and right.get_yscale() == "log"
    assert "w_1" in left.get_xlabel() and right.get_ylabel() == "loss f(w)"
    plt.close(figure)


def test_schedule_figure_draws_the_rates_as_given():
    step = torch.optim.lr_scheduler.MultiStepLR
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler, rates = step(optimizer, milestones=[2, 4], gamma=0.1), []
    for _ in range(6):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    figure = foundations.plot_schedules({"step": rates}, xlabel="epoch")
    axis = figure.axes[0]
    assert list(axis.lines[0].get_ydata()) == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    assert axis.get_xlabel() == "epoch" and axis.get_ylabel() == "learning rate"
    plt.close(figure)
