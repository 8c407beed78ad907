"""The repository's own rules: clean notebooks, a title then one setup cell, a table of contents
that matches."""
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import notebooks as notebook_tools  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_chapters():
    assert [p.name[:2] for p in CHAPTERS] == [f"{i:02d}" for i in range(len(CHAPTERS))]
    assert len(CHAPTERS) >= 1


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    dirty = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])
    ]
    assert not dirty, (f"{path.name}: cells {dirty} carry outputs; run `python tools/notebooks.py "
                       f"clean`")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_notebook_starts_with_its_title_then_the_folded_setup_cell(path):
    cells = json.loads(path.read_text())["cells"]
    title, setup = cells[0], cells[1]
    assert title["cell_type"] == "markdown" and title["source"].startswith("# "), (
        f"{path.name}: the notebook does not start with its title")
    source = "".join(setup["source"]) if isinstance(setup["source"], list) else setup["source"]
    assert source == notebook_tools.setup_cell_source(), (
        f"{path.name}: the cell after the title differs from the setup cell; run "
        "`python tools/notebooks.py sync`")
    assert notebook_tools.repository_url() in source
    assert setup["metadata"]["tags"] == notebook_tools.SETUP_TAGS            # the site folds it
    assert setup["metadata"]["jupyter"]["source_hidden"] is True             # and JupyterLab
    tagged = [i for i, c in enumerate(cells)
              if notebook_tools.SETUP_TAG in c["metadata"].get("tags", [])]
    assert tagged == [1], f"{path.name}: setup cells at {tagged}"


def test_sync_puts_the_setup_cell_after_the_title_and_changes_nothing_else(tmp_path):
    chapter = CHAPTERS[0]
    before = json.loads(chapter.read_text())["cells"]
    copy = tmp_path / chapter.name
    copy.write_text(chapter.read_text())
    notebook_tools.sync([copy])
    after = json.loads(copy.read_text())["cells"]
    old = [c for c in before if notebook_tools.SETUP_TAG in c["metadata"].get("tags", [])]
    rest = [c for c in before if c not in old]
    assert after[:1] + after[2:] == rest                        # ids and sources untouched
    assert after[1]["source"] == notebook_tools.setup_cell_source()
    assert after[1]["id"] == (old[0]["id"] if old else "setup")
    notebook_tools.sync([copy])                                 # a second run: no change
    assert json.loads(copy.read_text())["cells"] == after


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_a_chapter_module_is_imported_under_one_name(path):
    """``from cnnlit.chapters import vgg as chapter`` in every notebook: one convention."""
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join(c["source"] for c in cells if c["cell_type"] == "code")
    aliases = re.findall(r"^from cnnlit\.chapters import \w+ as (\w+)", code, re.MULTILINE)
    assert set(aliases) <= {"chapter"}, f"{path.name} imports a chapter module as {aliases}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_notebook_has_one_title_and_exercises(path):
    cells = json.loads(path.read_text())["cells"]
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert len(re.findall(r"^# ", markdown, flags=re.MULTILINE)) == 1
    assert re.search(r"^## Exercises", markdown,
                     flags=re.MULTILINE), f"{path.name} has no exercises"
    solutions = [c for c in cells if "solution" in c.get("metadata", {}).get("tags", [])]
    assert solutions, f"{path.name}: exercises need solutions (cells tagged 'solution')"
    for cell in solutions:
        source = "".join(cell["source"])
        folded = ("hide-input" in cell["metadata"]["tags"] or ":class: dropdown" in source
                  # folded in every renderer
                  or source.lstrip().startswith("<details>") and "</details>" in source)
        assert folded, f"{path.name}: a solution is not folded away on the site"


def test_table_of_contents_lists_every_chapter_and_page():
    toc = (ROOT / "_toc.yml").read_text()
    listed = re.findall(r"file:\s*(\S+)", toc) + re.findall(r"root:\s*(\S+)", toc)
    for entry in listed:
        assert list(ROOT.glob(entry + ".*")), f"_toc.yml lists {entry}, which does not exist"
    for path in CHAPTERS:
        assert f"notebooks/{path.stem}" in listed, f"{path.name} is missing from _toc.yml"


def test_environment_yml_mirrors_pyproject():
    tomllib = pytest.importorskip("tomllib")          # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | {
        d for extra in project["optional-dependencies"].values() for d in extra
    }
    pip_section = (ROOT / "environment.yml").read_text().split("- pip:", 1)[1]
    listed = set(re.findall(r"^\s+- (\S+)\s*$", pip_section, re.MULTILINE))
    assert {d.replace(" ", "") for d in wanted} == listed


def test_student_copies_drop_solutions(tmp_path):
    notebook_tools.student(tmp_path)
    for path in CHAPTERS:
        original = json.loads(path.read_text())["cells"]
        copy = json.loads((tmp_path / path.name).read_text())["cells"]
        solutions = [c for c in original if "solution" in c.get("metadata", {}).get("tags", [])
                     or notebook_tools.SOLUTION_BLOCK.fullmatch(c["source"].strip() + "\n")]
        assert len(copy) == len(original) - len(solutions)
        assert not any("solution" in c.get("metadata", {}).get("tags", []) for c in copy)
        assert not any(re.search(r"<summary>\s*(Solution|Rubric)", c["source"]) for c in copy)


def test_student_copies_drop_rubrics_and_keep_the_task():
    cell = {"cell_type": "markdown", "metadata": {}, "source":
            "**02.design** ★★★ Design a network.\n\n<details>\n<summary>Rubric (for instructors)"
            "</summary>\n\nA good answer plots the error.\n\n</details>\n"}
    copy = notebook_tools.without_solutions({"cells": [cell]})["cells"]
    assert copy[0]["source"] == "**02.design** ★★★ Design a network."
