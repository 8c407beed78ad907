"""Memory on the instructor's path: the measurements and estimates of cnnlit.memory, and the budget
every chapter's full profile must fit (a T4's 15 GB, less headroom: 12 GB)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnlit import memory

ROOT = Path(__file__).resolve().parents[1]


def test_peak_rss_reads_another_processs_high_water_mark():
    """As conftest reads a notebook kernel's: a child that touched 300 MB shows a peak above 300 MB.
    """
    child = subprocess.Popen([sys.executable, "-c", "import sys\nblock = bytearray(300_000_000)\n"
                              "block[::4096] = b'x' * len(block[::4096])\nprint('ready', "
                              "flush=True)\nsys.stdin.read()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        assert memory.peak_rss(child.pid) > 300e6
    finally:
        child.communicate("")
    assert memory.peak_rss() > 50e6                     # this process: torch is loaded
    assert memory.peak_rss(pid=2**22 + 1) is None       # no such process


def test_saved_for_backward_counts_what_autograd_keeps():
    # Linear keeps its input (for the weight's gradient) and ReLU its output, which is also the
    # second Linear's input: counted once. Weights are counted with the weights, not here.
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5)).to("meta")
    assert memory.saved_for_backward(model, (10,), batch_size=3) == 3 * 10 * 4 + 3 * 20 * 4


def test_the_meta_device_count_equals_a_real_forward_pass():
    from cnnlit.models import get_model

    real = get_model("resnet_cifar", depth=20)
    on_meta = get_model("resnet_cifar", depth=20).to("meta")
    counted = memory.saved_for_backward(on_meta, (3, 32, 32), batch_size=4)
    kept = {}
    with torch.autograd.graph.saved_tensors_hooks(lambda t: kept.setdefault(id(t), t), lambda t: t):
        real.train()(torch.rand(4, 3, 32, 32))
    real_bytes = sum(t.numel() * t.element_size() for t in kept.values()
                     if not isinstance(t, nn.Parameter) and not isinstance(t._base, nn.Parameter))
    # a map per layer and more
    assert counted == real_bytes and counted > 4 * 3 * 32 * 32 * 4 * 19


def test_forward_peak_is_the_largest_layer_input_plus_output():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)).to("meta")
    # conv: 3 + 8 maps in and out; ReLU: 8 in and 8 out (the largest); pooling: 8 maps in, 8 quarter
    # maps out
    assert memory.forward_peak(model, (3, 16, 16), batch_size=2) == 2 * 4 * (8 * 16 * 16) * 2


def test_an_estimate_adds_up_its_parts():
    run = memory.Run("tiny", lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), (3, 2, 2),
                     batch_size=8,
                     optimizer_states=2, resident=memory.dataset_bytes(100, (3, 2, 2)), amp=False)
    estimate = memory.estimate(run)
    # weights, grads, Adam's two
    assert estimate.parameters == 26 and estimate.weights == 26 * 4 * (2 + 2)
    assert estimate.resident == 100 * (12 * 4 + 8) and estimate.batch == 8 * (12 * 4 + 8)
    assert estimate.training_peak == int(
        estimate.resident
        + memory.CUDA_CONTEXT
        + memory.HEADROOM * (estimate.weights + estimate.activations + estimate.batch)
    )


def test_every_chapter_fits_a_colab_gpu_in_the_full_profile():
    table = memory.chapter_estimates()
    assert len(table) == len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    over = table[table["estimated peak (GB)"] >= memory.GPU_BUDGET / 1e9]
    assert over.empty, f"over the {memory.GPU_BUDGET / 1e9:g} GB GPU budget:\n{over.to_string()}"


@pytest.mark.parametrize("plan", memory.chapter_plans(), ids=lambda plan: plan.notebook)
def test_each_plan_describes_its_chapter_as_the_notebook_has_it(plan):
    cells = json.loads((ROOT / "notebooks" / plan.notebook).read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    missing = [line for line in plan.evidence if line not in code]
    assert not missing, (f"{plan.notebook} no longer contains {missing}: update its plan in "
                         "cnnlit/memory.py (chapter_plans) to what the chapter now trains")
    assert plan.runs or "fit(" not in code, f"{plan.notebook} trains but its plan lists no run"


def _notebook(path: Path, *sources: str) -> Path:
    cells = [{"cell_type": "code", "source": source, "metadata": {}, "outputs": []}
             for source in sources]
    path.write_text(json.dumps({"cells": cells}))
    return path


def test_chapter_settings_read_the_full_profiles_choices(tmp_path):
    from cnnlit.profiles import PROFILES

    _notebook(tmp_path / "99_x.ipynb",
              "%matplotlib inline\nX = p.choose(smoke=1, cpu=2, full=3)",
              "A, B = p.choose(smoke=(1, 2), cpu=(1, 2), full=(5, None))\n"
              "d = dict(w=p.choose(smoke=1, cpu=1, full=9), n=4)\n"
              "pool = images[:p.choose(smoke=1, cpu=2, full=30)]\nunknown = images.shape[-1]",
              "fit(m, data, batch_size=p.batch_size, width=p.choose(smoke=1, cpu=1, full=0.5))\n"
              "fit(m, data)")
    settings = memory.chapter_settings("99_x.ipynb", tmp_path)
    assert settings.names == {"X": 3, "A": 5, "B": None, "d": {"w": 9, "n": 4}, "pool": 30}
    assert settings.keywords["batch_size"] == [PROFILES["full"].batch_size]
    assert settings.keywords["width"] == [0.5]
    # the second fit gives no batch size: fit's default, 64, counts too
    assert settings.training_batch == max(PROFILES["full"].batch_size, 64)


def test_a_chapter_that_changes_its_sizes_changes_its_estimate(tmp_path):
    """The plans read the notebooks: a wider Figure 1 network or larger ZF Net images change the
    runs."""
    for notebook in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        (tmp_path / notebook.name).write_text(notebook.read_text())
    for name, old, new in (("02_alexnet.ipynb", "width=p.choose(smoke=8, cpu=16, full=32)",
                            "width=p.choose(smoke=8, cpu=16, full=48)"),
                           ("03_zfnet.ipynb", "SIZE = p.choose(smoke=32, cpu=48, full=96)",
                            "SIZE = p.choose(smoke=32, cpu=48, full=112)")):
        text = (tmp_path / name).read_text()
        assert text.count(old) == 1
        (tmp_path / name).write_text(text.replace(old, new))
    before = {plan.notebook: plan for plan in memory.chapter_plans()}
    after = {plan.notebook: plan for plan in memory.chapter_plans(tmp_path)}
    figure1_before = before["02_alexnet.ipynb"].runs[0]
    figure1_after = after["02_alexnet.ipynb"].runs[0]
    assert "width 32" in figure1_before.label and "width 48" in figure1_after.label
    assert memory.estimate(figure1_after).parameters > memory.estimate(figure1_before).parameters
    assert after["03_zfnet.ipynb"].runs[0].input_shape == (1, 112, 112)
    assert before["03_zfnet.ipynb"].runs[0].input_shape == (1, 96, 96)
