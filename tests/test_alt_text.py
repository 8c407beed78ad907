"""Alt text: each figure's sentence comes from its own words (title, axes, legend, the network
drawn), travels inside its PNG, and the site build writes it into <img alt> instead of a path."""
from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import types
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnnlit import alt_text, diagrams, widgets
from cnnlit.models import get_model

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def curves():
    figure, axis = plt.subplots()
    axis.plot([0.5, 0.3, 0.2], label="ReLU")
    axis.plot([0.6, 0.5, 0.45], label="tanh")
    axis.set(title="Training error against epoch", xlabel="epoch", ylabel="training error")
    axis.legend()
    yield figure
    plt.close(figure)


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=40)
    return buffer.getvalue()


def test_a_figure_is_described_by_its_title_axes_and_legend(curves):
    assert alt_text.describe(curves) == ("Figure: Training error against epoch; x: epoch, "
                                         "y: training error; legend: ReLU, tanh.")


def test_panels_suptitle_mathtext_and_colour_bar_are_read():
    figure, (left, right) = plt.subplots(1, 2)
    figure.suptitle("Filters of $\\mathrm{conv}_1$")
    left.set(title="before", xlabel="x", ylabel="$\\sigma$")
    picture = right.imshow(np.zeros((3, 3)))
    right.set_title("after")
    figure.colorbar(picture, ax=right, label="weight")
    sentence = alt_text.describe(figure)
    plt.close(figure)
    assert sentence == ("Figure: Filters of conv_1. 2 panels: before; x: x, y: sigma | after. "
                        "colour: weight.")


def test_a_figure_without_words_has_no_sentence_and_long_ones_are_cut():
    figure, axis = plt.subplots()
    axis.imshow(np.zeros((2, 2)))
    assert alt_text.describe(figure) == ""
    axis.set_title("word " * 400)
    assert len(alt_text.describe(figure)) <= alt_text.MAX_LENGTH + 2
    plt.close(figure)


def test_a_network_diagram_names_its_layers_and_shapes():
    figure = diagrams.draw(get_model("lenet5"), (1, 1, 32, 32))
    sentence = alt_text.describe(figure)
    plt.close(figure)
    # the paper's LeNet-5 maps (LeCun et al., 1998): C1 6@28x28 ... C5 120, F6 84
    for name, label in figure.diagram_labels:
        assert f"{name} {label}" in sentence
    assert sentence.startswith("Figure: ") and "C1 6@28×28" in sentence


def test_the_description_travels_inside_the_png_and_leaves_the_pixels(curves):
    image = _png(curves)
    described = alt_text.with_description(image, "Figure: éλ×, twice")
    assert alt_text.read_description(image) is None
    assert alt_text.read_description(described) == "Figure: éλ×, twice"
    again = alt_text.with_description(described, "Figure: once")
    assert alt_text.read_description(again) == "Figure: once"
    assert again.count(b"iTXtDescription") == 1
    assert np.array_equal(plt.imread(io.BytesIO(image)), plt.imread(io.BytesIO(again)))
    with pytest.raises(ValueError):
        alt_text.read_description(b"GIF89a")


@pytest.mark.parametrize("formats", ["png", "retina"])
def test_the_kernel_formatter_gives_figures_their_sentence(curves, formats):
    """What ``import cnnlit`` does in a kernel, on IPython's own display formatter; the inline
    backend may register figures before or after it (select_figure_formats)."""
    from IPython.core.formatters import DisplayFormatter
    from IPython.core.pylabtools import select_figure_formats

    shell = types.SimpleNamespace(display_formatter=DisplayFormatter())
    select_figure_formats(shell, {formats})
    assert alt_text.install(shell) and alt_text.install(shell)          # twice is once
    select_figure_formats(shell, {formats})
    data, metadata = shell.display_formatter.format(curves)
    sentence = alt_text.describe(curves)
    assert metadata["image/png"]["alt"] == sentence
    assert alt_text.read_description(base64.b64decode(data["image/png"])) == sentence
    assert "alt" not in shell.display_formatter.format(np.zeros(2))[1].get("image/png", {})


def test_frames_and_panels_say_what_each_picture_shows():
    def plot(p=0.5):
        figure, axis = plt.subplots()
        axis.plot([0, 1], [0, p])
        axis.set(title="Kept units", xlabel="unit", ylabel="kept")
        return figure

    player = widgets.frames(plot, "p", [0.0, 0.5])
    assert alt_text.read_description(player.images[1]) == "Figure: Kept units; x: unit, y: kept."
    page = player._repr_html_()
    alts = re.findall(r'<img[^>]+alt="([^"]*)"', page)
    assert alts == ["Figure: Kept units; x: unit, y: kept; p = 0.0.",
                    "Figure: Kept units; x: unit, y: kept; p = 0.5."]
    page = widgets.small_multiples(plot, [{"p": 0.0}])._repr_html_()
    assert re.findall(r'alt="([^"]*)"', page) == ["Figure: Kept units; x: unit, y: kept; p = 0.0."]


# --------------------------------------------------------------------------- the site side

def _notebook(outputs: list[dict]) -> dict:
    cells = [{"cell_type": "markdown", "id": "title", "metadata": {}, "source": "# Figures"}]
    for number, (code, output) in enumerate(outputs):
        cells.append({"cell_type": "code", "id": f"c{number}", "metadata": {},
                      "execution_count": number + 1, "source": code, "outputs": [output]})
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3",
                                                        "display_name": "Python 3",
                                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _display(image: bytes) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(image).decode("ascii"),
                     "text/plain": "<Figure>"}}


def test_the_site_build_writes_the_figures_sentence_into_img_alt(tmp_path, curves):
    """A one-page MyST-NB site with two stored figure outputs: one that carries its sentence, one
    from before (none): its alt is the code line that drew it. Neither is the image's path."""
    described = alt_text.with_description(_png(curves), alt_text.describe(curves))
    bare = plt.figure(figsize=(1, 1))
    plain = _png(bare)
    plt.close(bare)
    source = tmp_path / "source"
    source.mkdir()
    (source / "page.ipynb").write_text(json.dumps(_notebook([
        ("fig = plot_errors(history)", _display(described)),
        ("# a bare square\nshow_square(side=1)", _display(plain))])))
    (source / "_static" / "mathjax").mkdir(parents=True)
    (source / "_static" / "mathjax" / "tex-mml-chtml.js").write_text("")   # the site's own MathJax
    (source / "index.md").write_text("# Site\n\n```{toctree}\npage\n```\n")
    (source / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "extensions = ['myst_nb', 'site_build']\n"
        "nb_execution_mode = 'off'\n"
        "html_static_path = ['_static']\n"
        "mathjax_path = 'mathjax/tex-mml-chtml.js'\n"
        "exclude_patterns = ['_build']\n")
    result = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W",
                             str(source), str(tmp_path / "html")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    page = (tmp_path / "html" / "page.html").read_text()
    alts = re.findall(r'<img[^>]*\salt="([^"]*)"[^>]*src="[^"]*_images/', page)
    assert alts == ["Figure: Training error against epoch; x: epoch, y: training error; "
                    "legend: ReLU, tanh.", "Figure drawn by the code: show_square(side=1)"]
