"""GOMP_SPINCOUNT=3000 reaches OpenMP when cnnlit is imported before torch, and about() says so.

GNU OpenMP prints its settings at start-up with OMP_DISPLAY_ENV=VERBOSE: GOMP_SPINCOUNT is 300000 by
default, 0 under OMP_WAIT_POLICY=PASSIVE and 3000 with cnnlit's short spin, which shows what the
runtime itself read, not just os.environ."""
import os
import re
import subprocess
import sys

import pytest

import cnnlit
from cnnlit import threads


def _run(code: str, **environment) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(OMP_DISPLAY_ENV="VERBOSE", **environment)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300,
                          check=True)


def _spin_count(result) -> str:
    found = re.search(r"GOMP_SPINCOUNT = '(\d+)'", result.stdout + result.stderr)
    if found is None:
        pytest.skip("torch's OpenMP runtime here is not GNU OpenMP (no OMP_DISPLAY_ENV output)")
    return found.group(1)


PROBE = "import torch; torch.ones(8).sum(); print(cnnlit.threads.thread_settings())"


def test_importing_cnnlit_first_gives_openmp_a_short_spin():
    result = _run("import cnnlit; " + PROBE)
    assert _spin_count(result) == threads.SPIN_COUNT == "3000"
    assert "GOMP_SPINCOUNT=3000 (set by cnnlit before torch loaded" in result.stdout


def test_after_torch_it_is_too_late_and_about_says_so():
    result = _run("import torch, cnnlit; " + PROBE)
    assert _spin_count(result) == "300000"             # GNU OpenMP's own default spin
    assert "OpenMP's default waiting: torch was imported before cnnlit" in result.stdout


@pytest.mark.parametrize("variable, value, runtime_spin", [("OMP_WAIT_POLICY", "PASSIVE", "0"),
                                                           ("GOMP_SPINCOUNT", "50", "50")])
def test_a_wait_setting_chosen_by_the_environment_is_kept(variable, value, runtime_spin):
    result = _run("import os, cnnlit; " + PROBE + "; print(os.environ.get('GOMP_SPINCOUNT'))",
                  **{variable: value})
    assert _spin_count(result) == runtime_spin
    assert result.stdout.split()[-1] == (value if variable == "GOMP_SPINCOUNT" else "None")
    assert f"{variable}={value} (from the environment)" in result.stdout


def test_about_prints_the_thread_settings(capsys):
    cnnlit.about()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("cnnlit ") and len(lines) == 2
    import torch
    assert lines[1].startswith(f"CPU: {torch.get_num_threads()} torch threads, ")
    assert (
        "GOMP_SPINCOUNT" in lines[1]
        or "OMP_WAIT_POLICY" in lines[1]
        or "OpenMP's default" in lines[1]
    )
    assert "bfloat16" in lines[1]


def test_first_outcome_is_kept(monkeypatch):
    monkeypatch.setattr(threads, "_outcome", None)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    # torch is loaded in this test process
    assert threads.prefer_short_spin() == "too late"
    assert "GOMP_SPINCOUNT" not in os.environ
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    assert threads.prefer_short_spin() == "too late"
