"""Time every chapter notebook under one or more run profiles and print a table.

    python benchmarks/notebook_times.py                         # smoke profile, all notebooks
    python benchmarks/notebook_times.py --profiles smoke,cpu    # both profiles
    python benchmarks/notebook_times.py notebooks/01_lenet5.ipynb --profiles cpu
    # keep the executed copies:
    python benchmarks/notebook_times.py --profiles cpu --save _build/executed

Each notebook is executed with nbclient in a fresh kernel (``CNNLIT_PROFILE`` set for it), from a
scratch working folder: nothing is written into ``notebooks/``. The time includes the kernel's start
and the imports, as a reader (or nbval) pays them. Budgets (DESIGN.md): smoke <= 60 s, cpu <= 5 min
per notebook; the whole smoke run <= 8 minutes.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGETS = {"smoke": 60, "cpu": 300, "full": 900}


def execute(notebook, environment: dict, timeout: int,
            kernel: str = "python3") -> tuple[float, str]:
    """Run an nbformat ``notebook`` in place (its outputs filled in) with nbclient, in a fresh
    kernel started with ``environment`` added to this process's, from a scratch working folder.
    Returns (seconds, status): status is "ok", "timeout ..." or "error: <the last line of the
    error>"."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)
    status = "ok"
    try:
        with tempfile.TemporaryDirectory(prefix="cnnlit-notebook-") as scratch:
            client = NotebookClient(notebook, timeout=timeout, kernel_name=kernel,
                                    resources={"metadata": {"path": scratch}})
            tick = time.perf_counter()
            try:
                client.execute()
            except CellTimeoutError:
                status = f"timeout (a cell ran over {timeout} s)"
            except CellExecutionError as error:
                lines = [line for line in str(error).splitlines() if line.strip()]
                status = "error: " + (lines[-1][:120] if lines else "a cell raised")
            except DeadKernelError:
                status = "error: the kernel died (out of memory?)"
            seconds = time.perf_counter() - tick
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return seconds, status


def with_checkout(environment: dict) -> dict:
    """``environment`` plus PYTHONPATH with this checkout first, so kernels import its cnnlit."""
    return {**environment,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def time_notebook(path: Path, profile: str, timeout: int, kernel: str,
                  save: Path | None = None) -> tuple[float, str]:
    """(seconds, status) for one execution of ``path`` under ``profile``; with ``save``, the
    executed notebook (outputs included, as far as it ran) is written to
    ``save/<profile>/<name>``."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    seconds, status = execute(notebook, with_checkout({"CNNLIT_PROFILE": profile}), timeout, kernel)
    if save is not None:
        (save / profile).mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, save / profile / path.name)
    return seconds, status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Time each notebook under the given profiles.")
    parser.add_argument("notebooks", nargs="*", help="default: every notebooks/*.ipynb")
    parser.add_argument("--profiles", default="smoke", help="comma-separated: smoke, cpu, full")
    parser.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds")
    parser.add_argument("--kernel", default="python3")
    parser.add_argument("--save", type=Path, default=None,
                        help="write the executed notebooks under SAVE/<profile>/")
    args = parser.parse_args(argv)
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    unknown = [p for p in profiles if p not in BUDGETS]
    if unknown:
        parser.error(f"unknown profile(s) {unknown}; use {', '.join(BUDGETS)}")
    paths = [Path(p) for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not paths:
        print("no notebooks to time (notebooks/ holds no .ipynb yet)")
        return 1
    print(f"{len(paths)} notebook(s), profiles {', '.join(profiles)}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    rows = []
    for profile in profiles:
        for path in paths:
            seconds, status = time_notebook(path, profile, args.timeout, args.kernel, args.save)
            over = " (over budget)" if seconds > BUDGETS[profile] else ""
            rows.append((path.name, profile, seconds, status + over))
            print(f"  {path.name:<32} {profile:<6} {seconds:8.1f} s  {status}{over}", flush=True)
    print("\n| notebook | profile | seconds | status |\n|---|---|---:|---|")
    for name, profile, seconds, status in rows:
        print(f"| {name} | {profile} | {seconds:.1f} | {status} |")
    for profile in profiles:
        total = sum(s for _, p, s, _ in rows if p == profile)
        print(f"| **all** | {profile} | {total:.1f} | budget per notebook {BUDGETS[profile]} s |")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if all(status.startswith("ok") and "over" not in status for *_, status in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
