"""Install as Colab does: a clean environment with only torch and torchvision (and the kernel
machinery Colab's image has), cnnlit installed by the chapters' own setup cell with pip and no
extras, then one chapter run end to end in the smoke profile by a kernel of that environment. A
runtime import that pyproject's ``dependencies`` do not bring fails here, whatever the development
environment has.

Making the environment: ``venv`` without ``--system-site-packages``, then the installed files of
torch, torchvision, ipykernel and pip and of everything they require (read with importlib.metadata)
are hard-linked in from this environment: seconds instead of minutes for a 1 GB torch, and a later
pip uninstall in the clean environment unlinks its own names only, never this environment's files.
"""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import notebooks as notebook_tools  # noqa: E402

# What Colab's image has before a chapter runs: torch and torchvision, the Jupyter kernel, pip.
COLAB_PREINSTALLED = ("torch", "torchvision", "ipykernel", "pip")
# torchvision, pandas and a network trained, in the shortest smoke run (15 s alone); the test also
# imports every module of the package and every module any chapter imports (skimage among them)
CHAPTER = ROOT / "notebooks" / "08_transfer.ipynb"
# the setup cell's pip target, replaced by the checkout
INSTALL_TARGET = 'f"git+{REPOSITORY}"]'

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="hard links and /proc: Linux only")


def _requirement_closure(names) -> list[metadata.Distribution]:
    """The installed distributions ``names`` and everything they require, with the extras they ask
    for (torch asks for ``cuda-toolkit[cublas,...]``), markers evaluated here."""
    from packaging.requirements import Requirement

    found, done, pending = {}, set(), [(name, "") for name in names]
    while pending:
        name, extra = pending.pop()
        name = re.sub(r"[-_.]+", "-", name).lower()
        if (name, extra) in done:
            continue
        done.add((name, extra))
        try:
            distribution = found.get(name) or metadata.distribution(name)
        except metadata.PackageNotFoundError:
            # an optional or platform-specific requirement not installed
            continue
        found[name] = distribution
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                pending += [(requirement.name, "")] + [(requirement.name,
                                                        e) for e in requirement.extras]
    return list(found.values())


def _link_distributions(distributions, site_packages: Path) -> int:
    """Hard-link each distribution's installed files (its RECORD) into ``site_packages``, with the
    bytecode this environment compiled for its modules (the Makefile's pip does not compile: a
    module is compiled when first imported); returns the count of files linked from RECORD.
    """
    count = 0
    for distribution in distributions:
        source_root = Path(distribution.locate_file(""))
        for file in distribution.files or []:
            # scripts in bin/: not needed to import or to run a kernel
            if file.parts[0] == "..":
                continue
            source, target = source_root / file, site_packages / file
            if not source.is_file() or target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)
            count += 1
            if source.suffix == ".py":
                _link_bytecode(source, target)
    return count


def _link_bytecode(source: Path, target: Path) -> None:
    """Link ``source``'s compiled module beside ``target`` where it exists and is not there yet
    (the same file, so the same modification time: Python takes the bytecode as current)."""
    compiled = Path(importlib.util.cache_from_source(str(source)))
    linked = Path(importlib.util.cache_from_source(str(target)))
    if compiled.is_file() and not linked.exists():
        linked.parent.mkdir(exist_ok=True)
        os.link(compiled, linked)


def _checkout_copy(destination: Path) -> Path:
    """The working tree as git would commit it (tracked and new, not ignored files), as a fresh
    clone has it.
    """
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def _clean_environment_variables(home: Path) -> dict:
    """This process's environment less anything that would let the clean one see the development
    one.
    """
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "JUPYTER_PATH",
                                "PYTHONSTARTUP")}
    environment["PATH"] = os.pathsep.join([str(home / "bin")] + [
        p for p in environment.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)])
    environment["VIRTUAL_ENV"] = str(home)
    return environment


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A clean environment holding only what Colab's image holds: (python, environment variables).
    """
    home = tmp_path_factory.mktemp("colab-env")
    venv.EnvBuilder(system_site_packages=False, with_pip=False, symlinks=True).create(home)
    python = home / "bin" / "python"
    site_packages = Path(subprocess.run([str(python), "-c",
                                         "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        capture_output=True, text=True, check=True).stdout.strip())
    linked = _link_distributions(_requirement_closure(COLAB_PREINSTALLED), site_packages)
    assert linked > 1000, f"only {linked} files linked: is torch installed in this environment?"
    return python, _clean_environment_variables(home)


def _python(colab, code: str, cwd: Path, timeout: int = 120):
    python, environment = colab
    return subprocess.run([str(python), "-c", code], cwd=cwd, env=environment, capture_output=True,
                          text=True,
                          timeout=timeout)


def test_the_clean_environment_sees_only_what_colab_has(colab, tmp_path):
    result = _python(colab, "import importlib.util as u, sys; import torch, torchvision, "
                            "ipykernel; "
                            "print(sys.prefix != sys.base_prefix, [m for m in ('cnnlit', 'pandas', "
                            "'matplotlib', 'skimage', 'tqdm', 'ipywidgets', 'pytest', 'nbval') if "
                            "u.find_spec(m)])", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "[]"], result.stdout


def test_a_failed_install_says_why_without_a_pip_traceback(colab, tmp_path):
    """Run in the clean environment (no cnnlit), the setup cell names the cause and the remedy."""
    cell = notebook_tools.setup_cell_source()
    url = notebook_tools.repository_url()
    missing = cell.replace(f'REPOSITORY = "{url}"', f'REPOSITORY = "file://{tmp_path}/no-such-repository"')
    result = _python(colab, missing, tmp_path, timeout=300)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: cnnlit is not installed and installing it failed:"), (
        result.stderr
    )
    assert "no-such-repository' does not appear to be a git repository" in last  # git's words
    assert last.endswith("(check the network and REPOSITORY above, then run this cell again)")
    assert (
        "subprocess-exited-with-error" not in result.stderr and "pip._internal" not in result.stderr
    )


def test_the_setup_cell_installs_cnnlit_and_a_chapter_runs_end_to_end(colab, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    python, environment = colab
    checkout = _checkout_copy(tmp_path / "checkout")
    notebook = nbformat.read(CHAPTER, as_version=4)
    setup_cell = notebook.cells[1]                                # right after the title
    setup = setup_cell.source
    assert setup == notebook_tools.setup_cell_source() and setup.count(INSTALL_TARGET) == 1
    setup_cell.source = setup.replace(INSTALL_TARGET, f"{str(checkout)!r}]")  # pip install it

    kernels = tmp_path / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "clean, as on Colab", "language": "python",
        # pip installs without compiling (as the Makefile's): the kernel compiles what it imports
        "env": {**environment, "CNNLIT_PROFILE": "smoke", "PIP_COMPILE": "false"}}))
    # not the repository: no `cnnlit/` beside it
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(tmp_path / "jupyter")
    try:
        client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="colab",
                                         resources={"metadata": {"path": str(scratch)}})
        client.execute()
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved
    printed = "".join(o.get("text", "") for o in setup_cell.outputs)
    assert printed.startswith("cnnlit "), printed          # cnnlit.about() ran after the install

    # Every module of the package and every module a chapter imports, in that environment.
    package = ROOT / "cnnlit"
    modules = sorted({".".join(("cnnlit",) + p.relative_to(package).with_suffix("").parts)
                      .removesuffix(".__init__")
                      for p in package.rglob("*.py") if p.name != "__main__.py"}
                     | _notebook_imports())
    result = _python(colab, f"import importlib\nfor m in {modules!r}:\n    "
                            f"importlib.import_module(m)", scratch)
    assert result.returncode == 0, (f"a runtime import is missing from pyproject's "
                                    f"dependencies:\n{result.stderr[-2000:]}")


def _notebook_imports() -> set:
    """Top-level modules the chapters' code cells import."""
    names = set()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            code = "\n".join(line for line in source.splitlines()
                              if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.Import):
                    names |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module)
    return names
