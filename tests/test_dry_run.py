"""The dry run (``CNNLIT_DRY_RUN=1``) that lets CI execute the full profile on a CPU: loops capped
at 1 batch and 1 epoch, result checks skipped while architecture checks still fail, the synthetic
CIFAR-10 stand-in, and the two ways a notebook run fails instead of hanging or swapping: the cell
watchdog and the memory budget."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnlit import data, paper
from cnnlit.profiles import DRY_RUN_BATCHES, DRY_RUN_VARIABLE, dry_run
from cnnlit.train import evaluate, fit, predict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import cifar_standin  # noqa: E402


@pytest.fixture
def dry(monkeypatch):
    monkeypatch.setenv(DRY_RUN_VARIABLE, "1")


def _counting_model():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    calls = []
    model.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[0]))
    return model, calls


def _tensors(n=100):
    return data.TensorData(torch.rand(n, 1, 4, 4), torch.arange(n) % 3, ["a", "b", "c"])


def test_the_switch_reads_yes_and_no_and_refuses_anything_else(monkeypatch):
    for value, expected in [("1", True), ("true", True), ("0", False), ("", False)]:
        monkeypatch.setenv(DRY_RUN_VARIABLE, value)
        assert dry_run() is expected
    monkeypatch.setenv(DRY_RUN_VARIABLE, "maybe")
    with pytest.raises(ValueError, match="CNNLIT_DRY_RUN='maybe'"):
        dry_run()


def test_a_check_run_is_the_smoke_profile_or_a_dry_run(monkeypatch):
    from cnnlit.profiles import check_run

    monkeypatch.delenv(DRY_RUN_VARIABLE, raising=False)
    for name, expected in (("smoke", True), ("cpu", False), ("full", False)):
        monkeypatch.setenv("CNNLIT_PROFILE", name)
        assert check_run() is expected, name
    monkeypatch.setenv(DRY_RUN_VARIABLE, "1")
    assert check_run() is True                               # the full profile, dry


def test_fit_is_capped_at_one_batch_and_one_epoch(dry, capsys):
    model, calls = _counting_model()
    history = fit(model, _tensors(), epochs=5, batch_size=10, device="cpu", progress=False)
    assert DRY_RUN_BATCHES == 1
    assert len(history) == 1 and calls == [10]              # 1 epoch of 1 batch, not 5 of 10
    assert "dry run" in capsys.readouterr().out


def test_evaluate_and_predict_are_capped_at_one_batch(dry):
    model, calls = _counting_model()
    result = evaluate(model, _tensors(), batch_size=16, device="cpu")
    assert result.count == 16 and calls == [16]
    outputs, labels = predict(model, _tensors(), batch_size=16, device="cpu")
    assert outputs.shape == (16, 3) and labels.shape == (16,)


def test_without_the_switch_every_batch_and_epoch_runs(monkeypatch):
    monkeypatch.delenv(DRY_RUN_VARIABLE, raising=False)
    model, calls = _counting_model()
    history = fit(model, _tensors(), epochs=2, batch_size=25, device="cpu", progress=False)
    assert len(history) == 2 and calls == [25] * 8


# --------------------------------------------------------------------------- result checks vs
# architecture checks

def test_expect_is_silent_when_the_claim_holds_and_names_it_when_not(monkeypatch, capsys):
    monkeypatch.delenv(DRY_RUN_VARIABLE, raising=False)
    monkeypatch.setenv("CNNLIT_STRICT", "1")            # as in `make test`: a failed claim raises
    assert paper.expect(0.91 > 0.85, "the tiny network passes 85% test accuracy") is True
    assert capsys.readouterr().out == ""
    with pytest.raises(paper.ResultCheckFailed, match="did not show: the tiny network passes 85%"):
        paper.expect(0.42 > 0.85, "the tiny network passes 85% test accuracy")
    with pytest.raises(ValueError, match="claim in words"):
        paper.expect(True, " ")


def test_expect_reports_skipped_in_a_dry_run(dry, capsys):
    assert paper.expect(0.1 > 0.85, "the tiny network passes 85% test accuracy") is False
    assert capsys.readouterr().out.startswith("skipped in a dry run (CNNLIT_DRY_RUN=1")


def test_trained_tables_are_skipped_in_a_dry_run_but_architecture_tables_still_fail(dry, capsys):
    table = paper.compare([("test error", 0.9, 0.0095, 0.1)], title="LeNet-5, Fig. 14",
                          trained=True)
    assert table.match.tolist() == ["skipped in a dry run"]
    assert "LeNet-5, Fig. 14: skipped in a dry run" in capsys.readouterr().out
    with pytest.raises(paper.PaperMismatch):
        paper.compare([("C3 parameters", 1517, 1516)], title="LeNet-5")


# --------------------------------------------------------------------------- the CIFAR-10 stand-in

def test_the_stand_in_has_cifar10s_shape_and_classes_and_says_what_it_is(tmp_path, capsys):
    cifar_standin.write(tmp_path, {"train": 200, "test": 50})
    train = data.load("cifar10", "train", root=tmp_path, download=False)
    test = data.load("cifar10", "test", root=tmp_path, download=False)
    out = capsys.readouterr().out
    assert train.images.shape == (200, 3, 32, 32) and len(test) == 50
    assert train.classes == list(data.CIFAR10_CLASSES)
    assert train.labels.bincount().tolist() == [20] * 10
    assert train.name == "cifar10 (stand-in)" and "SYNTHETIC STAND-IN" in train.source
    assert (
        out.count("cnnlit.data: cifar10 (stand-in)/") == 2 and out.count("SYNTHETIC STAND-IN") == 2
    )
    # the classes differ in colour: a nearest-mean classifier on mean colours beats chance by far
    means = torch.stack([train.images[train.labels == k].mean((0, 2, 3)) for k in range(10)])
    guess = torch.cdist(test.images.mean((2, 3)), means).argmin(1)
    assert (guess == test.labels).float().mean() > 0.5


def test_the_stand_in_is_never_written_beside_real_data(tmp_path):
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "train.pt").write_bytes(b"real data")
    with pytest.raises(SystemExit, match="not a stand-in"):
        cifar_standin.write(tmp_path, {"train": 10, "test": 10})
    assert (tmp_path / "cifar10" / "train.pt").read_bytes() == b"real data"


def test_the_stand_in_run_covers_every_chapter_that_loads_cifar10():
    chapters = [p.name for p in cifar_standin.cifar_chapters()]
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        loads = "cifar10" in json.dumps([c["source"] for c in json.loads(path.read_text())["cells"]
                                         if c["cell_type"] == "code"])
        assert (path.name in chapters) == loads, path.name
    assert chapters, "no chapter loads CIFAR-10: the stand-in run would test nothing"
    others = [p.name for p in cifar_standin.other_chapters()]
    every = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(chapters + others) == every and not set(chapters) & set(others)  # each once


def test_the_dry_run_links_the_offline_data_beside_the_stand_in_and_removes_the_links(tmp_path):
    cache, folder = tmp_path / "cache", tmp_path / "run"
    for name in ("mnist", "fashion-mnist", "cifar10"):
        (cache / name).mkdir(parents=True)
        (cache / name / "train.pt").write_bytes(name.encode())
    folder.mkdir()
    assert cifar_standin.link_offline_data(folder, cache) == ["fashion-mnist", "mnist"]
    assert (folder / "mnist" / "train.pt").read_bytes() == b"mnist"
    assert not (folder / "cifar10").exists()            # the stand-in's place, not the real one
    shutil.rmtree(folder)
    assert (cache / "mnist" / "train.pt").read_bytes() == b"mnist"    # the cache is untouched


# --------------------------------------------------------------------------- failing instead of
# hanging

def _notebook(path: Path, *sources: str) -> Path:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
              "outputs": [],
              "source": source} for i, source in enumerate(sources)]
    path.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": {
        "display_name": "Python 3", "language": "python", "name": "python3"}}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def test_a_stuck_cell_fails_by_name_and_a_kernel_over_the_memory_budget_fails(tmp_path):
    """The repository's conftest under nbval: the watchdog (``--nbval-cell-timeout``) names the cell
    that stopped making progress; with the memory budget lowered to 1 MB, the first cell fails on
    the budget."""
    (tmp_path / "conftest.py").write_text(
        "import runpy\nimport cnnlit.memory\n"
        f"hooks = runpy.run_path({str(ROOT / 'conftest.py')!r})\n"
        "globals().update({k: v for k, v in hooks.items() if not k.startswith('__')})\n"
        "cnnlit.memory.HOST_RSS_BUDGET = 1e6\n")
    _notebook(tmp_path / "stuck.ipynb", "import time\ntime.sleep(600)", "print('never')")
    _notebook(tmp_path / "hungry.ipynb", "x = 1")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CNNLIT_")}
    result = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "stuck.ipynb",
                             "hungry.ipynb",
                             "-p", "no:cacheprovider", "--nbval-cell-timeout=3", "-q", "-rf"],
                            cwd=tmp_path, env=environment, capture_output=True, text=True,
                            timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 1, log
    assert "stuck.ipynb::Cell 0" in log and "Timeout of 3 seconds exceeded executing cell" in log, (
        log
    )
    assert "FAILED hungry.ipynb::Cell 0" in log and "over the 0.001 GB budget" in log, log
    # the table at the end: time and peak memory per notebook
    assert "peak RSS  hungry.ipynb" in log


# --------------------------------------------------------------------------- the GPU timing script,
# on the CPU

def test_the_gpu_chapters_script_runs_and_rewrites_only_its_own_section(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gpu_chapters

    chapter = _notebook(tmp_path / "09_example.ipynb",
                        "import os, torch\nprint('cnnlit.data: cifar10 (stand-in)/train: 512 "
                        "images from a stand-in')",
                        "print(f\"test accuracy {91.25:.1f}% after 1 epoch(s), dry run "
                        "{os.environ['CNNLIT_DRY_RUN']}\")")
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Throughput\n\nkept as it is\n")
    assert gpu_chapters.main(["--dry-run", "--results", str(results), str(chapter)]) == 0
    section = results.read_text().split("kept as it is\n", 1)[1].strip()
    gpu_chapters.write_section(results, section)            # a second run replaces the section
    text = results.read_text()
    assert text.startswith("# Benchmark results\n\n## Throughput\n\nkept as it is\n")
    assert (
        text.count(gpu_chapters.START) == 1
        and text.count("## GPU: every chapter in the full profile") == 1
    )
    assert "**DRY RUN on the CPU**" in text
    row = next(line for line in text.splitlines() if line.startswith("| 09_example.ipynb"))
    # no GPU memory on a CPU
    assert "| cifar10 (stand-in) |" in row and "| ok |" in row and "— / —" in row
    assert "- 09_example.ipynb: `test accuracy 91.2% after 1 epoch(s), dry run 1`" in text
