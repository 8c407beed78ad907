"""cnnlit.widgets: the live controls' callbacks and widgets, and the kernel-free counterparts the
site shows.
"""
from __future__ import annotations

import base64
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cnnlit import widgets  # noqa: E402


def line_plot(slope: float = 1.0, points: int = 5, kind: str = "line", grid: bool = False):
    """A small view with the four kinds of control: float and int sliders, a dropdown, a checkbox.
    """
    figure, axis = plt.subplots(figsize=(4, 3))
    xs = list(range(points))
    (axis.plot if kind == "line" else axis.scatter)(xs, [slope * x for x in xs])
    axis.grid(grid)
    axis.set_title(f"slope {slope}")
    return figure


def wide_plot(width: float = 15.0):
    figure, axes = plt.subplots(1, 6, figsize=(width, 2.9))
    for index, axis in enumerate(axes):
        axis.set_title(f"panel {index}")
    return figure


def _pngs(html: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([^"]+)"',
                                                          html)]


def test_decimals_and_readout_format_show_the_step():
    assert widgets.decimals(1) == 0 and widgets.decimals(0.5) == 1 and widgets.decimals(0.05) == 2
    assert (
        widgets.decimals(0.25) == 2 and widgets.decimals(2e-5) == 5 and widgets.decimals(1e-4) == 4
    )
    assert widgets.readout_format(2e-5) == ".5f"
    assert f"{1e-4:{widgets.readout_format(2e-5)}}" == "0.00010"         # not "0.00"
    for bad in (0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="positive"):
            widgets.decimals(bad)


def test_fit_shrinks_wide_figures_to_the_notebook_width_only():
    figure = widgets.fit_to_width(wide_plot(15.0))
    width, height = figure.get_size_inches()
    assert width == pytest.approx(widgets.NOTEBOOK_WIDTH)
    assert height == pytest.approx(2.9 * widgets.NOTEBOOK_WIDTH / 15)
    small = widgets.fit_to_width(line_plot())
    assert tuple(small.get_size_inches()) == pytest.approx((4, 3))
    plt.close("all")


def test_render_checks_the_plot_returns_a_figure():
    assert widgets.render(line_plot, {"slope": 2.0}).axes[0].get_title() == "slope 2.0"
    with pytest.raises(TypeError, match="must return a matplotlib Figure"):
        widgets.render(lambda: None)
    plt.close("all")


def test_redraw_is_a_png_of_the_fitted_figure_and_closes_it():
    before = len(plt.get_fignums())
    image = widgets.redraw(wide_plot, {"width": 15.0})
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(plt.get_fignums()) == before
    assert widgets.png_width(image) <= widgets.NOTEBOOK_WIDTH * widgets.DPI
    with pytest.raises(ValueError, match="not a PNG"):
        widgets.png_width(b"GIF89a")


def long_titles(size: float = 6.0):
    figure, axis = plt.subplots(figsize=(size, 3.0))
    axis.plot([0, 1], [0, 1])
    axis.set_title("gradient reaching each layer: 30 layers, weight scale 0.50 (and more words)")
    axis.set_ylabel(r"$\|\partial L / \partial x_l\|$")
    figure.suptitle("a figure title that is wider than four inches at the default font size")
    return figure


def test_fit_keeps_the_figure_title_clear_of_the_panels():
    from cnnlit.chapters.alexnet import dropout_explorer

    def view():
        return dropout_explorer(p=0.55, mode="eval", kind="inverted", units=80, samples=200, seed=1)

    # narrowed and wrapped, not laid out: titles overlap
    narrowed = view()
    width, height = narrowed.get_size_inches()
    narrowed.set_size_inches(8.5, height * 8.5 / width)
    widgets.wrap_titles(narrowed)
    assert widgets._title_overlap(narrowed, narrowed.canvas.get_renderer()) > 2
    figure = widgets.fit_to_width(view(), width=8.5)
    assert widgets._title_overlap(figure, figure.canvas.get_renderer()) <= 1
    plt.close("all")


def test_fit_wraps_titles_that_spill_out_of_a_narrowed_figure():
    plain = long_titles()
    plain.set_size_inches(4.0, 2.0)
    spilled = widgets.png(plain)                                       # narrowed, not fitted
    # what a notebook would shrink
    assert widgets.png_width(spilled) > 4.0 * widgets.DPI + 20
    figure = widgets.fit_to_width(long_titles(), width=4.0)
    assert "\n" in figure.axes[0].get_title() and "\n" in figure._suptitle.get_text()
    assert widgets.png_width(widgets.png(figure)) <= 4.0 * widgets.DPI + 1


def test_make_control_builds_readable_controls_that_redraw():
    ipywidgets = pytest.importorskip("ipywidgets")
    calls = []

    def recorded(slope: float = 1e-4, points: int = 5, kind: str = "line", grid: bool = False):
        calls.append(dict(slope=slope, points=points, kind=kind, grid=grid))
        return line_plot(slope, points, kind, grid)

    control = widgets.make_control(recorded, slope=(0.0, 1e-3, 2e-5), points=(2, 20, 1),
                                   kind=["line", "scatter"], grid=False)
    by_name = {child.description: child for child in control.children if hasattr(child, "value")}
    assert isinstance(by_name["slope"], ipywidgets.FloatSlider)
    assert isinstance(by_name["points"], ipywidgets.IntSlider)
    assert isinstance(by_name["kind"], ipywidgets.Dropdown)
    assert isinstance(by_name["grid"], ipywidgets.Checkbox)
    assert by_name["slope"].readout_format == ".5f" and by_name["slope"].value == pytest.approx(
        1e-4
    )
    assert all(w.style.description_width == "initial" for w in by_name.values())
    assert not by_name["slope"].continuous_update and not by_name["points"].continuous_update
    # drawn once
    assert calls[-1] == dict(slope=pytest.approx(1e-4), points=5, kind="line", grid=False)
    by_name["points"].value = 7
    by_name["kind"].value = "scatter"
    by_name["grid"].value = True
    assert calls[-1] == dict(slope=pytest.approx(1e-4), points=7, kind="scatter", grid=True)
    assert len(plt.get_fignums()) == 0


def test_a_choice_whose_default_is_none_starts_at_the_first_option():
    pytest.importorskip("ipywidgets")
    seen = []

    def view(model=None, layer: int = 1):
        seen.append(model)
        return line_plot()

    control = widgets.make_control(view, model=["ZF-style", "AlexNet-style"], layer=(1, 5))
    dropdown = next(child for child in control.children if child.description == "model")
    assert dropdown.value == "ZF-style" and seen[-1] == "ZF-style"
    dropdown.index = 1
    assert seen[-1] == "AlexNet-style"


def test_make_control_rejects_unknown_names_and_empty_controls():
    pytest.importorskip("ipywidgets")
    with pytest.raises(ValueError, match="has no parameter 'steep'"):
        widgets.make_control(line_plot, steep=(0, 1, 0.1))
    with pytest.raises(ValueError, match="at least one control"):
        widgets.make_control(line_plot)


def test_control_displays_the_control_once_and_returns_nothing(monkeypatch):
    pytest.importorskip("ipywidgets")
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display",
                        lambda *objects, **kwargs: shown.extend(objects))
    assert widgets.control(line_plot, points=(2, 9, 1)) is None
    assert [type(o).__name__ for o in shown].count("interactive") == 1


def test_frames_pre_render_one_picture_per_value_and_start_at_the_default(monkeypatch):
    monkeypatch.setenv("CNNLIT_PROFILE", "cpu")              # a reader's run: every frame
    monkeypatch.delenv("CNNLIT_DRY_RUN", raising=False)
    plt.close("all")                 # figures an earlier test of this worker left open are not ours
    player = widgets.frames(line_plot, "slope", [0.5, 1.0, 1.5, 2.0], points=4)
    assert len(player) == 4 and player.labels == ["slope = 0.5", "slope = 1.0", "slope = 1.5",
                                                  "slope = 2.0"]
    # line_plot's default slope is 1.0
    assert player.start == 1
    html = player._repr_html_()
    images = _pngs(html)
    assert len(images) == 4 and len(set(images)) == 4                 # four different pictures
    assert html.count(" hidden") == 3 and 'value="1"' in html
    assert 'type="range" min="0" max="3"' in html
    assert "<output>slope = 1.0</output>" in html and "<script>" in html
    # nothing left for the notebook to show
    assert len(plt.get_fignums()) == 0
    assert widgets.frames(line_plot, "points", [3, 4], start=4).start == 1


@pytest.mark.parametrize("check", [{"CNNLIT_PROFILE": "smoke"},
                                   {"CNNLIT_PROFILE": "full", "CNNLIT_DRY_RUN": "1"}])
def test_a_check_run_draws_a_few_frames_and_keeps_the_start_frame(monkeypatch, check):
    monkeypatch.delenv("CNNLIT_DRY_RUN", raising=False)
    for name, value in check.items():
        monkeypatch.setenv(name, value)
    player = widgets.frames(line_plot, "points", range(2, 12), start=9)
    assert len(player) == widgets.FRAMES_IN_A_CHECK == 3
    assert player.labels == ["points = 2", "points = 3", "points = 9"] and player.start == 2
    assert len(widgets.frames(line_plot, "slope", [0.5, 1.0, 1.5, 2.0])) == 3
    assert len(widgets.frames(line_plot, "slope", [0.5, 1.0])) == 2      # fewer: all of them


def test_frames_errors_are_clear():
    with pytest.raises(ValueError, match="at least one value"):
        widgets.frames(line_plot, "slope", [])
    with pytest.raises(ValueError, match="has no parameter 'angle'"):
        widgets.frames(line_plot, "angle", [1, 2])
    with pytest.raises(ValueError, match="one label per image"):
        widgets.Frames([b"x"], ["a", "b"])


def test_frame_labels_show_the_spacing_of_the_values():
    alphas = [0.0, 2e-5, 5e-5, 1e-4, 2e-4]
    assert widgets.label("alpha", 1e-4, alphas) == "alpha = 0.00010"
    assert widgets.label("weight_scale", 0.5, [0.5, 1.5]) == "weight_scale = 0.5"
    assert widgets.label("p", 0.0, [i / 10 for i in range(10)]) == "p = 0.0"
    assert widgets.label("mode",
                         "train") == "mode = train" and widgets.label("n", 5, [1, 5]) == "n = 5"


def test_small_multiples_caption_each_setting_and_fit_each_column():
    settings = [{"slope": 0.5, "kind": "line"}, {"slope": 2.0, "kind": "scatter"},
                {"slope": 2.0, "kind": "line"}]
    panels = widgets.small_multiples(line_plot, settings, columns=2)
    html = panels._repr_html_()
    assert len(panels) == 3 and panels.captions[1] == "slope = 2.0, kind = scatter"
    assert len(set(_pngs(html))) == 3 and "grid-template-columns:repeat(2," in html
    wide = widgets.small_multiples(wide_plot, [{"width": 15.0}, {"width": 12.0}])
    assert (
        sum(widgets.png_width(image) for image in wide.images) + widgets.GAP
        <= widgets.NOTEBOOK_WIDTH * widgets.DPI
    )
    with pytest.raises(ValueError, match="at least one setting"):
        widgets.small_multiples(line_plot, [])


def test_progress_bars_on_the_site_are_their_final_line_of_text(monkeypatch, capsys):
    """The site has no kernel: with CNNLIT_PROGRESS=text (set by the site build) a training bar is
    no widget and draws only its final line, so the page shows one line per bar."""
    import torch

    from cnnlit.data import TensorData
    from cnnlit.train import fit

    monkeypatch.setenv("CNNLIT_PROGRESS", "text")
    data = TensorData(torch.rand(16, 1, 4, 4), torch.randint(0, 2, (16,)), classes=["a", "b"])
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    fit(model, data, epochs=3, batch_size=8, description="training", device="cpu")
    lines = [line for line in capsys.readouterr().err.splitlines() if "epoch" in line]
    assert len(lines) == 1 and lines[0].startswith("training: 100%|") and "3/3 [" in lines[0]
    assert "\r" not in lines[0]
