"""pytest set-up for the whole repository (tests/ and the notebooks nbval runs): a per-notebook
table of execution time, the kernel's CPU time and its peak memory at the end of the run, since
nbval reports cell by cell.

A notebook whose kernel's peak resident memory (VmHWM) crosses ``cnnlit.memory.HOST_RSS_BUDGET``
fails at the cell where it did: the full profile must fit a free Colab machine. With
``CNNLIT_NOTEBOOK_REPORT=FILE`` the table is also written to FILE as JSON.
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

_notebook_seconds: dict[str, float] = defaultdict(float)
_notebook_peak_rss: dict[str, int] = {}
_notebook_cpu_seconds: dict[str, float] = {}
_budget_seen: dict[str, int] = {}          # per notebook, in the process that runs it


def _cpu_seconds(pid: int):
    """User + system CPU time of process ``pid`` so far: what a notebook costs, however busy the
    machine.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _kernel_pid(item):
    """The process id of the kernel nbval runs a notebook in (a child of this process)."""
    kernel = getattr(item.parent, "kernel", None)
    pid = getattr(getattr(getattr(kernel, "km", None), "provisioner", None), "pid", None)
    if pid:
        return pid
    # fall back: a child whose command line says ipykernel
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid() and b"ipykernel" in (entry / "cmdline").read_bytes():
                return int(entry.name)
        except (OSError, IndexError, ValueError):
            continue
    return None


# With CNNLIT_EXECUTED_NOTEBOOKS=FOLDER, every notebook nbval runs to its last code cell is also
# written to FOLDER with its outputs: make test's site build renders the dry run's notebooks from
# there instead of running every chapter a second time (tests/test_book.py).
EXECUTED_VARIABLE = "CNNLIT_EXECUTED_NOTEBOOKS"


def _write_executed(item) -> None:
    """Keep the outputs nbval read for this cell in its notebook; after the notebook's last code
    cell, write the notebook out (once: a notebook stopped earlier is not written)."""
    folder, outputs = os.environ.get(EXECUTED_VARIABLE), getattr(item, "test_outputs", None)
    if not folder or outputs is None:
        return
    import nbformat

    item.cell.execution_count = item.cell_num + 1
    item.cell.outputs = list(outputs)
    for output in item.cell.outputs:
        if output.output_type == "execute_result":
            output.execution_count = item.cell.execution_count
    last_code_cell = [cell for cell in item.parent.nb.cells if cell.cell_type == "code"][-1]
    if item.cell is last_code_cell:
        Path(folder).mkdir(parents=True, exist_ok=True)
        nbformat.write(item.parent.nb, Path(folder) / Path(str(item.fspath)).name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Read the kernel's CPU time and peak memory after each cell (in the process that runs the
    notebook: a pytest-xdist worker or pytest itself) and carry them in the report's
    user_properties, which reach the process that prints the table."""
    outcome = yield
    path = item.nodeid.split("::")[0]
    if call.when != "call" or not path.endswith(".ipynb"):
        return
    _write_executed(item)
    from cnnlit.memory import HOST_RSS_BUDGET, peak_rss

    pid = _kernel_pid(item)
    peak = peak_rss(pid) if pid else None
    cpu = _cpu_seconds(pid) if pid else None
    report = outcome.get_result()
    report.user_properties += [("kernel_cpu_seconds", cpu), ("peak_rss", peak)]
    if peak is None:
        return
    first_time_over = peak > HOST_RSS_BUDGET and _budget_seen.get(path, 0) <= HOST_RSS_BUDGET
    _budget_seen[path] = max(peak, _budget_seen.get(path, 0))
    if first_time_over and report.passed:
        report.outcome = "failed"
        report.longrepr = (f"the kernel's peak memory reached {peak / 1e9:.2f} GB during this "
                           f"cell, over the "
                           f"{HOST_RSS_BUDGET / 1e9:g} GB budget (a free Colab machine has about "
                           f"12.7 GB)")


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if not path.endswith(".ipynb"):
        return
    _notebook_seconds[path] += report.duration
    measured = dict(report.user_properties)
    if measured.get("kernel_cpu_seconds") is not None:
        _notebook_cpu_seconds[path] = max(measured["kernel_cpu_seconds"],
                                          _notebook_cpu_seconds.get(path, 0.0))
    if measured.get("peak_rss") is not None:
        _notebook_peak_rss[path] = max(measured["peak_rss"], _notebook_peak_rss.get(path, 0))


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    terminalreporter.write_sep("-", "notebook execution time (nbval, all cells) and the kernel's "
                                    "peak memory")
    profile = ", ".join(f"{k}={os.environ[k]}" for k in ("CNNLIT_PROFILE", "CNNLIT_DRY_RUN",
                                                         "CNNLIT_DATA")
                        if os.environ.get(k))
    if profile:
        terminalreporter.write_line(profile)
    for path, seconds in sorted(_notebook_seconds.items()):
        peak, cpu = _notebook_peak_rss.get(path), _notebook_cpu_seconds.get(path)
        memory = f"{peak / 1e9:6.2f} GB peak RSS" if peak else ""
        kernel_cpu = f"{cpu:7.1f} s kernel CPU" if cpu is not None else ""
        terminalreporter.write_line(f"{seconds:7.1f} s  {kernel_cpu}  {memory}  {path}")
    terminalreporter.write_line(f"{sum(_notebook_seconds.values()):7.1f} s  in all")
    if os.environ.get("CNNLIT_NOTEBOOK_REPORT"):        # benchmarks/gpu_chapters.py reads it back
        import json
        Path(os.environ["CNNLIT_NOTEBOOK_REPORT"]).write_text(json.dumps(
            {path: {"seconds": seconds, "kernel_cpu_seconds": _notebook_cpu_seconds.get(path),
                    "peak_rss": _notebook_peak_rss.get(path)}
             for path, seconds in _notebook_seconds.items()}, indent=1))


# The test files that take minutes each, longest first (make test's step 1, measured 2026-12-06 on
# 2 cores: JupyterLab about 5 minutes, the site build and its browser checks about 2, the Colab-like
# install 1).
# With ``--no-loadscope-reorder``, pytest-xdist hands out files in this order: the two workers
# start on the two longest and the short files fill in behind them. By the number of tests
# (xdist's default) they started last.
LONGEST_FIRST = ("tests/test_lab.py", "tests/test_book.py", "tests/test_colab_install.py")


def pytest_collection_modifyitems(session, config, items):
    positions = {Path(str(config.rootpath), name).resolve(): position
                 for position, name in enumerate(LONGEST_FIRST)}
    # stable: the rest keep their order
    items.sort(key=lambda item: positions.get(Path(str(item.fspath)).resolve(),
                                              len(LONGEST_FIRST)))
