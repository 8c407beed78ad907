"""``python -m cnnlit.exercises grade SUBMISSIONS... --out grades.csv``: see :mod:`.grading`."""
from __future__ import annotations

__all__ = ["run_command_line"]

import argparse
import sys
from pathlib import Path


def run_command_line(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnlit.exercises",
                                     description="Tools for the book's exercises.")
    commands = parser.add_subparsers(dest="command", required=True)
    grading = commands.add_parser(
        "grade", help="run submitted notebooks and tabulate their checks",
        description="Run each submitted notebook in a fresh kernel (smoke profile, a time limit "
                    "per notebook) and write one row per student, one column per exercise key. "
                    "The students' code runs with your rights.")
    grading.add_argument("submissions", nargs="+", type=Path, help="the students' .ipynb files")
    grading.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write")
    grading.add_argument("--feedback", type=Path, help="a folder for one feedback file per student")
    grading.add_argument("--timeout", type=float, default=600, help="seconds per notebook (600)")
    grading.add_argument("--keys", help="comma-separated exercise keys (default: every key of the "
                                        "chapters the submissions check)")
    grading.add_argument("--profile", default="smoke", help="the cnnlit profile to run in (smoke)")
    grading.add_argument("--kernel", default="python3", help="the Jupyter kernel (python3)")
    arguments = parser.parse_args(argv)
    from .grading import grade

    keys = [key.strip() for key in (arguments.keys or "").split(",") if key.strip()] or None
    try:
        grade(arguments.submissions, arguments.out, feedback=arguments.feedback,
              timeout=arguments.timeout, profile=arguments.profile, kernel=arguments.kernel,
              exercise_keys=keys)
    except (ValueError, KeyError) as error:
        parser.error(str(error))
    print(f"wrote {arguments.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line())
