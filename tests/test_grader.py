"""The grader (python -m cnnlit.exercises grade): made-up submissions (all right, one exercise wrong
and one left at None, one notebook that raises, one file that is not a notebook, one that hangs)
give the expected CSV and feedback, and no broken submission stops the run."""
import os
import time
from pathlib import Path

import nbformat
import pytest

from cnnlit.exercises.__main__ import run_command_line
from cnnlit.exercises.grading import Grade, columns, grade_notebook

ROOT = Path(__file__).resolve().parents[1]
KEYS = "00.output_size,04.receptive_field_3x3_stack"        # two cheap ★ checks: a formula each


def notebook(path: Path, *sources: str) -> Path:
    """A submission as make student hands one out: a title, then the student's code cells."""
    cells = [nbformat.v4.new_markdown_cell("# Exercises")]
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def submissions(folder: Path) -> list:
    setup = "from cnnlit.exercises import check"
    return [
        notebook(folder / "ada.ipynb", setup, 'check("00.output_size", (32 + 2 * 1 - 5) // 2 + 1)',
                 'answers = {"04.receptive_field_3x3_stack": 1 + 3 * 2}\n'
                 'for key, answer in answers.items():\n    check(key, answer)'),
        notebook(folder / "ben.ipynb", setup, 'check("00.output_size", 16)',
                 'check("04.receptive_field_3x3_stack", None)'),
        notebook(folder / "cy.ipynb", setup, 'check("00.output_size", 15)',
                 'side = 7 // 0\ncheck("04.receptive_field_3x3_stack", side)'),
        (folder / "dee.ipynb"),
    ]


def test_the_grader_writes_a_row_per_student_and_survives_broken_ones(tmp_path, monkeypatch,
                                                                         capsys):
    paths = submissions(tmp_path)
    paths[-1].write_text("my answers: 15 and 7\n")                       # not a notebook
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # the command line, in this process: python -m cnnlit.exercises grade ... runs the same function
    arguments = ["grade", *map(str, paths), "--out", "grades.csv", "--feedback", "feedback",
                 "--keys", KEYS, "--timeout", "120"]
    assert run_command_line(arguments) == 0
    assert "dee: not a notebook" in capsys.readouterr().out
    assert (tmp_path / "grades.csv").read_text() == (
        "student,status,00.output_size,04.receptive_field_3x3_stack\n"
        "ada,ok,passed,passed\n"
        "ben,ok,failed,not attempted\n"
        "cy,error in cell 4: ZeroDivisionError,passed,error\n"
        "dee,not a notebook,error,error\n")
    ben = (tmp_path / "feedback" / "ben.md").read_text()
    assert "- 00.output_size: failed — value: not the expected value — rounding up" in ben
    assert "04.receptive_field_3x3_stack: not attempted" in ben
    assert "ZeroDivisionError" in (tmp_path / "feedback" / "cy.md").read_text()
    written = sorted(p.name for p in (tmp_path / "feedback").iterdir())
    assert written == ["ada.md", "ben.md", "cy.md", "dee.md"]


def test_a_notebook_that_hangs_is_stopped_at_its_time_limit(tmp_path):
    path = notebook(tmp_path / "eve.ipynb", 'import time\ntime.sleep(600)  # "00.output_size"')
    started = time.monotonic()
    grade = grade_notebook(path, timeout=3)
    assert time.monotonic() - started < 60
    assert grade.status == "timed out after 3 s in cell 2"
    assert grade.result("00.output_size") == "error"             # named in the cell that hung
    assert grade.result("03.unpool") == "not attempted"


def test_the_default_columns_are_the_checked_chapters_keys(tmp_path):
    from cnnlit.exercises import keys

    grade = Grade("ada", "ok", mentioned={"04.vgg_block"})
    assert columns([grade]) == keys(4)
    with pytest.raises(SystemExit):                                # two submissions, one name
        run_command_line(["grade", "a.ipynb", "a.ipynb", "--out", str(tmp_path / "x.csv")])
