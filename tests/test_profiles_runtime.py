import pytest
import torch

import cnnlit
from cnnlit import profiles, runtime


def test_profile_from_environment(monkeypatch):
    for name in ("smoke", "cpu", "full"):
        monkeypatch.setenv("CNNLIT_PROFILE", name)
        assert cnnlit.profile().name == name


def test_profile_default_follows_cuda(monkeypatch):
    monkeypatch.delenv("CNNLIT_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cnnlit.profile().name == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cnnlit.profile().name == "full"


def test_bogus_profile_lists_valid_ones(monkeypatch):
    monkeypatch.setenv("CNNLIT_PROFILE", "turbo")
    with pytest.raises(ValueError, match="turbo.*smoke, cpu, full"):
        cnnlit.profile()


def test_profile_sizes_grow_from_smoke_to_full():
    smoke, cpu, full = (profiles.PROFILES[n] for n in ("smoke", "cpu", "full"))
    assert smoke.train_size < cpu.train_size and full.train_size is None
    assert smoke.test_size < cpu.test_size and full.test_size is None
    assert smoke.epochs <= cpu.epochs <= full.epochs
    assert [p.choose(smoke=1, cpu=2, full=3) for p in (smoke, cpu, full)] == [1, 2, 3]
    # every split holds the full batches a dry run takes
    for p in profiles.PROFILES.values():
        for size in (p.train_size, p.test_size):
            assert size is None or size >= profiles.DRY_RUN_BATCHES * p.batch_size, p.name
        assert p.name in str(p) and f"batch {p.batch_size}" in str(p)


def test_device_override_and_errors(monkeypatch):
    monkeypatch.setenv("CNNLIT_DEVICE", "cpu")
    assert cnnlit.device() == torch.device("cpu")
    monkeypatch.setenv("CNNLIT_DEVICE", "tpu")
    with pytest.raises(ValueError, match="cpu, cuda, mps"):
        cnnlit.device()
    monkeypatch.setenv("CNNLIT_DEVICE", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        cnnlit.device()


def test_device_default_without_cuda(monkeypatch):
    monkeypatch.delenv("CNNLIT_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False)
    assert cnnlit.device() == torch.device("cpu")


def test_seed_everything_repeats_draws():
    cnnlit.seed_everything(7)
    first = torch.rand(3)
    cnnlit.seed_everything(7)
    assert torch.equal(first, torch.rand(3))
    with pytest.raises(ValueError):
        cnnlit.seed_everything(-1)


def test_about_names_device_and_profile(monkeypatch, capsys):
    monkeypatch.setenv("CNNLIT_PROFILE", "smoke")
    assert cnnlit.about() is None                   # prints, so a notebook shows each line once
    lines = capsys.readouterr().out.splitlines()
    assert (
        "device: " in lines[0] and "profile 'smoke'" in lines[0] and len(lines) == len(set(lines))
    )


def test_about_tells_a_colab_runtime_without_a_gpu_where_to_get_one(monkeypatch, capsys):
    import sys
    import types

    import torch

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("CNNLIT_DEVICE", raising=False)
    cnnlit.about()
    lines = capsys.readouterr().out.splitlines()
    assert "device: cpu" in lines[0] or "device: mps" in lines[0]
    assert lines[-1].startswith("Colab: no GPU") and "Runtime > Change runtime type" in lines[-1]


def test_about_names_the_gpu_it_runs_on(monkeypatch, capsys):
    import torch

    monkeypatch.setenv("CNNLIT_PROFILE", "full")
    monkeypatch.setattr(cnnlit, "device", lambda: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda where=None: "Tesla T4")
    cnnlit.about()
    assert "device: cuda (Tesla T4) | profile 'full'" in capsys.readouterr().out


def test_seeds_follow_the_profile_and_a_dry_run_keeps_one(monkeypatch):
    from cnnlit.profiles import PROFILES
    monkeypatch.delenv("CNNLIT_DRY_RUN", raising=False)
    assert PROFILES["cpu"].seeds(smoke=1, cpu=3, full=5) == [0, 1, 2]
    assert PROFILES["full"].seeds(smoke=1, cpu=3, full=5) == [0, 1, 2, 3, 4]
    monkeypatch.setenv("CNNLIT_DRY_RUN", "1")
    assert PROFILES["full"].seeds(smoke=1, cpu=3, full=5) == [0]
    with pytest.raises(ValueError, match="positive whole number"):
        PROFILES["cpu"].seeds(smoke=1, cpu=0, full=3)
