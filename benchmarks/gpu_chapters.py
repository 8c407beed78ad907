"""Every chapter in the full profile on a GPU: time, peak GPU memory and the chapter's headline
numbers.

    python benchmarks/gpu_chapters.py              # all chapters, CNNLIT_PROFILE=full, on the GPU
    python benchmarks/gpu_chapters.py notebooks/07_resnet.ipynb
    python benchmarks/gpu_chapters.py --dry-run    # the same path on a CPU, loops capped (CI check)

Each notebook runs in a fresh kernel (nbclient) from a scratch folder; one extra cell at its end
reports the kernel's peak GPU memory (``torch.cuda.max_memory_allocated`` and ``..._reserved``,
which leave out the CUDA context) and peak host memory. The headline numbers are the lines the
chapter prints about its results (accuracy, error, speed-up), as printed. The table replaces the
section between the markers below in ``benchmarks/RESULTS.md`` (``--results`` to write elsewhere),
next to the GPU estimate of :mod:`cnnlit.memory`. Exit status 1 if a chapter fails or runs over the
profile's 15 minutes.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from notebook_times import execute, with_checkout  # noqa: E402

START, END = "<!-- gpu_chapters: start -->", "<!-- gpu_chapters: end -->"
# DESIGN.md: the full profile, per notebook on a T4-class GPU
BUDGET_SECONDS = 15 * 60
REPORT_PREFIX = "GPU_CHAPTERS_REPORT "
REPORT_CELL = f"""\
import json, torch
from cnnlit.memory import peak_rss
cuda = torch.cuda.is_available()
print({REPORT_PREFIX!r} + json.dumps({{
    "gpu": torch.cuda.get_device_name() if cuda else None,
    "allocated": torch.cuda.max_memory_allocated() if cuda else None,
    "reserved": torch.cuda.max_memory_reserved() if cuda else None,
    "host": peak_rss()}}))"""
# A line about a result: a word for what was measured and a number on the same line.
HEADLINE = re.compile(r"(accuracy|error|faster|speed-?up|reached)\b.*\d", re.IGNORECASE)
HEADLINES_PER_CHAPTER = 4


def run_chapter(path: Path, timeout: int, dry_run: bool) -> dict:
    """Execute one notebook; return its seconds, status, memory report and headline lines."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    environment = {"CNNLIT_PROFILE": "full"}
    environment.update({"CNNLIT_DRY_RUN": "1",
                        "CNNLIT_DEVICE": "cpu"} if dry_run else {"CNNLIT_DRY_RUN": "0"})
    seconds, status = execute(notebook, with_checkout(environment), timeout)
    printed = [output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", []) if output.get("output_type") == "stream"]
    lines = [line.strip() for text in printed for line in text.splitlines()]
    report = next(
        (
            json.loads(line[len(REPORT_PREFIX) :])
            for line in lines
            if line.startswith(REPORT_PREFIX)
        ),
        {},
    )
    headlines = [
        line for line in lines if HEADLINE.search(line) and not line.startswith(REPORT_PREFIX)
    ]
    datasets = sorted(
        {
            m.group(1)
            for line in lines
            for m in [re.match(r"cnnlit\.data: (.+?)/(train|test):", line)]
            if m
        }
    )
    if seconds > BUDGET_SECONDS and status == "ok":
        status = f"over the {BUDGET_SECONDS // 60}-minute budget"
    return {"notebook": path.name, "seconds": seconds, "status": status, "report": report,
            "headlines": headlines[:HEADLINES_PER_CHAPTER], "datasets": datasets}


def _gigabytes(value) -> str:
    return "—" if value is None else f"{value / 1e9:.2f}"


def section(results: list[dict], dry_run: bool) -> str:
    """The RESULTS.md section: machine, one row per chapter, the headline lines."""
    from cnnlit.memory import chapter_estimates
    from cnnlit.profiles import DRY_RUN_BATCHES

    estimates = chapter_estimates()["estimated peak (GB)"].to_dict()
    gpus = sorted({r["report"].get("gpu") for r in results if r["report"].get("gpu")})
    import torch
    kind = (
        f"**DRY RUN on the CPU** (`--dry-run`: loops capped at {DRY_RUN_BATCHES} batch(es) and 1 "
        "epoch): these "
        "are not GPU "
        "numbers; they show the script works"
        if dry_run
        else f"GPU: {', '.join(gpus) or 'none found'}"
    )
    lines = [START, "## GPU: every chapter in the full profile", "",
             f"`python benchmarks/gpu_chapters.py{' --dry-run' if dry_run else ''}` on "
             f"{datetime.date.today().isoformat()}: {kind}; torch {torch.__version__}, Python "
             f"{platform.python_version()}. Time includes the kernel's start; GPU memory is "
             f"torch's peak "
             "(allocated / reserved, without the CUDA context); the estimate is `cnnlit.memory`'s "
             "(context and headroom included).", "",
             "| chapter | data | time (s) | status | peak GPU allocated / reserved (GB) | "
             "estimated (GB) | peak host RSS (GB) |",
             "|---|---|---:|---|---:|---:|---:|"]
    for r in results:
        report = r["report"]
        lines.append(f"| {r['notebook']} | {', '.join(r['datasets']) or '—'} | {r['seconds']:.0f} "
                     f"| {r['status']} | {_gigabytes(report.get('allocated'))} / "
                     f"{_gigabytes(report.get('reserved'))} | "
                     f"{estimates.get(r['notebook'], float('nan')):.2f} | "
                     f"{_gigabytes(report.get('host'))} |")
    lines += ["", "Headline numbers, as each chapter printed them:", ""]
    for r in results:
        shown = "; ".join(f"`{line}`" for line in r["headlines"]) or "(no result lines printed)"
        lines.append(f"- {r['notebook']}: {shown}")
    return "\n".join(lines + [END])


def write_section(results_file: Path, text: str) -> None:
    """Replace this script's section of ``results_file`` (or append it), leaving the rest as it is.
    """
    old = results_file.read_text() if results_file.exists() else "# Benchmark results\n"
    if START in old and END in old:
        new = old[:old.index(START)] + text + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    results_file.write_text(new)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="default: every notebooks/NN_*.ipynb")
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU, CNNLIT_DRY_RUN=1: check the script and the full-profile path "
                             "without a GPU")
    parser.add_argument("--timeout", type=int, default=BUDGET_SECONDS,
                        help="per-cell timeout in seconds")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args(argv)
    if not args.dry_run:
        import torch
        if not torch.cuda.is_available():
            parser.error("no CUDA device here: run it on a GPU, or pass --dry-run to check it on "
                         "the CPU")
    paths = [Path(p) for p in args.notebooks] or sorted(
        (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
    )
    results = []
    for path in paths:
        result = run_chapter(path, args.timeout, args.dry_run)
        results.append(result)
        report = result["report"]
        print(f"{path.name:<28} {result['seconds']:7.1f} s  {result['status']}  GPU "
              f"{_gigabytes(report.get('allocated'))}"
              f" GB  host {_gigabytes(report.get('host'))} GB", flush=True)
    write_section(args.results, section(results, args.dry_run))
    print(f"written to {args.results}")
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
