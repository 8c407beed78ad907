"""JupyterLab in a real browser, as a student meets it: JupyterLab (from this environment) on a
temporary copy of the notebooks, in the smoke profile, driven by Playwright in Debian's Chromium.
Every chapter's markdown renders (math typeset, solutions folded, no raw MyST). Every chapter with
a control runs its cells up to its last control without an error (the copy drops the code cells
after it: they run in the full-profile dry run), then every control is operated (each
slider moved, each dropdown changed) and its figure must change with no error. Each control is
shown once, its readouts show values at the precision they move in, no label is cut and figures
are shown at their full size within the notebook's width. The server is stopped whatever happens.
Screenshots: _build/screenshots/lab/."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ROOT / "_build" / "screenshots" / "lab"
CONTROL_TAGS = {"skip-execution", "remove-cell"}
RUN_TIMEOUT_S = 240            # one chapter, all cells, smoke profile (about 20 s each on 2 cores)
REDRAW_TIMEOUT_S = 60          # one control's redraw

# JupyterLab's settings for the test: every cell in the page (not only those scrolled into view), so
# that the test reads and operates all of them; no question about news in a corner.
SETTINGS = {"@jupyterlab/notebook-extension/tracker": {"windowingMode": "none",
                                                       "autoStartDefaultKernel": True},
            "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}}

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(CHROMIUM is None,
                                 reason="Chromium is not installed (make test installs it)")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _is_control(cell: dict) -> bool:
    return cell["cell_type"] == "code" and CONTROL_TAGS <= set(cell.get("metadata",
                                                                         {}).get("tags", []))


def _controls(path: Path) -> int:
    return sum(map(_is_control, json.loads(path.read_text())["cells"]))


def _end_at_the_last_control(path: Path) -> None:
    """Drop the code cells after a chapter's last control from the test's copy: the controls need
    only what comes before them, and the cells after run in the site build and the dry run. Every
    markdown cell stays, for the checks of what the student reads."""
    notebook = json.loads(path.read_text())
    cells = notebook["cells"]
    last = max((i for i, cell in enumerate(cells) if _is_control(cell)), default=None)
    if last is not None:
        notebook["cells"] = cells[:last + 1] + [c for c in cells[last + 1:]
                                                if c["cell_type"] == "markdown"]
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


@pytest.fixture(scope="module")
def lab():
    """A JupyterLab server on a temporary copy of the notebooks: (base URL, folder). Stopped at the
    end.
    """
    jupyter = Path(sys.executable).with_name("jupyter-lab")
    if not jupyter.exists():
        pytest.skip("jupyter-lab is not installed in this environment")
    work = Path(tempfile.mkdtemp(prefix="cnnlit-lab-"))
    shutil.copytree(ROOT / "notebooks", work / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for chapter in CHAPTERS:
        _end_at_the_last_control(work / "notebooks" / f"{chapter}.ipynb")
    for folder in ("config", "data", "runtime", "settings", "workspaces"):
        (work / ".jupyter" / folder).mkdir(parents=True)
    for plugin, settings in SETTINGS.items():
        path = work / ".jupyter" / "settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    port = _free_port()
    environment = dict(os.environ, CNNLIT_PROFILE="smoke", OMP_WAIT_POLICY="PASSIVE",
                       JUPYTER_CONFIG_DIR=str(work / ".jupyter" / "config"),
                       JUPYTER_RUNTIME_DIR=str(work / ".jupyter" / "runtime"),
                       JUPYTERLAB_SETTINGS_DIR=str(work / ".jupyter" / "settings"),
                       JUPYTERLAB_WORKSPACES_DIR=str(work / ".jupyter" / "workspaces"))
    # the student's view: progress-bar widgets
    environment.pop("CNNLIT_PROGRESS", None)
    log = open(work / "lab.log", "w")
    server = subprocess.Popen(
        [str(jupyter), "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.root_dir={work}",
         "--IdentityProvider.token=", "--ServerApp.password=",
         "--ServerApp.disable_check_xsrf=True",
         "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        cwd=work, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not "
                                       f"start:\n{(work / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield url, work
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)            # the server and the kernels it started
            server.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            server.wait(timeout=10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


# --- what the page shows, read in the browser
# ---------------------------------------------------------------

PROMPTS = """() => Array.from(
        document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt'))
    .map(p => p.textContent.trim())"""

ERRORS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-OutputArea-output'))
    .filter(o => /Traceback/.test(o.textContent)
                 && o.matches('[data-mime-type="application/vnd.jupyter.stderr"]'))
    .map(o => o.textContent.slice(0, 400))"""

MARKDOWN = """() => {
    const rendered = Array.from(
        document.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown'));
    const problems = [];
    for (const cell of rendered) {
        const clone = cell.cloneNode(true);
        clone.querySelectorAll('code, pre, mjx-container, details').forEach(e => e.remove());
        const text = clone.textContent;
        for (const raw of ['{cite}', '{ref}', '{doc}', ':::', '```{']) {
            if (text.includes(raw)) problems.push(`raw ${raw}: ${text.slice(0, 80)}`);
        }
        if (/^\\W*Solution\\b/m.test(text))
            problems.push(`unfolded solution: ${text.slice(0, 80)}`);
    }
    const details = Array.from(document.querySelectorAll('.jp-RenderedMarkdown details'));
    for (const d of details) {
        if (d.open) problems.push('a solution is open');
        const summary = (d.querySelector('summary') || {textContent: ''}).textContent.trim();
        if (!/^(Solution|Rubric)/.test(summary))
            problems.push('a <details> without a Solution or Rubric summary');
    }
    return {problems, details: details.length,
            math: document.querySelectorAll('.jp-RenderedMarkdown mjx-container').length};
}"""

LAYOUT = """(root) => {
    const labels = '.widget-label, .widget-readout, .widget-dropdown > label';
    const cut = Array.from(root.querySelectorAll(labels))
        .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
        .map(e => e.textContent);
    const shrunk = Array.from(root.querySelectorAll('img'))
        .filter(i => i.offsetParent !== null && i.naturalWidth > 0
                     && i.getBoundingClientRect().width < 0.95 * i.naturalWidth)
        .map(i => `${i.naturalWidth}px shown at ${Math.round(i.getBoundingClientRect().width)}px`);
    return {cut, shrunk};
}"""

OUTPUT_IMAGE = """(root) => {
    const i = root.querySelector('.widget-output img');
    return i ? i.src.slice(-200) : null;
}"""


def _wait_for_kernel(url: str, path: str, timeout_s: float = 120) -> None:
    """Until the notebook's kernel has started and is idle (JupyterLab shows "idle" before it
    exists).
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/api/sessions", timeout=10) as response:
            for session in json.load(response):
                if (
                    session.get("path") == path
                    and (session.get("kernel") or {}).get("execution_state") == "idle"
                ):
                    return
        time.sleep(0.5)
    raise AssertionError(f"{path}: no idle kernel within {timeout_s} s")


def _wait_for_run(page, chapter: str, cells: int) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        prompts = page.evaluate(PROMPTS)
        if len(prompts) == cells and all(p[1:-2].strip().isdigit() for p in prompts if p):
            return
        if page.evaluate(ERRORS):
            return
        time.sleep(1)
    raise AssertionError(f"{chapter}: not every cell ran within {RUN_TIMEOUT_S} s: "
                         f"{page.evaluate(PROMPTS)}")


def _redrawn(page, control, before: str, what: str) -> list[str]:
    deadline = time.monotonic() + REDRAW_TIMEOUT_S
    while time.monotonic() < deadline:
        errors = control.evaluate("(root) => Array.from(root.querySelectorAll('.widget-output "
                                  "[data-mime-type=\"application/vnd.jupyter.stderr\"]')).map(e => "
                                  "e.textContent)")
        if errors:
            return [f"{what}: error in the control's output: {errors[0][:300]}"]
        after = control.evaluate(OUTPUT_IMAGE)
        if after and after != before:
            return []
        time.sleep(0.25)
    return [f"{what}: the figure did not change within {REDRAW_TIMEOUT_S} s"]


def _operate(page, control, index: int) -> list[str]:
    """Move every slider one step (by the keyboard, as a reader would) and change every dropdown;
    after each, the figure must change with no error and a slider's readout must show the new
    value."""
    problems = []
    sliders = control.query_selector_all(".widget-slider")
    for slider in sliders:
        name = slider.query_selector(".widget-label").inner_text()
        readout = slider.query_selector(".widget-readout")
        before_value, before_image = readout.inner_text(), control.evaluate(OUTPUT_IMAGE)
        handle = slider.query_selector(".noUi-handle")
        handle.focus()
        at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
        problems += _redrawn(page, control, before_image, f"control {index}, slider {name}")
        if readout.inner_text() == before_value:
            problems.append(f"control {index}, slider {name}: the readout stayed {before_value!r} "
                            f"while the value moved")
    for dropdown in control.query_selector_all(".widget-dropdown"):
        name = dropdown.query_selector(".widget-label").inner_text()
        select = dropdown.query_selector("select")
        options, current = select.evaluate("(s) => [s.options.length, s.selectedIndex]")
        before_image = control.evaluate(OUTPUT_IMAGE)
        select.select_option(index=(current + 1) % options)
        if select.evaluate("(s) => s.selectedIndex") == current:
            problems.append(f"control {index}, dropdown {name}: could not choose another option")
            continue
        problems += _redrawn(page, control, before_image, f"control {index}, dropdown {name}")
    for checkbox in control.query_selector_all(".widget-checkbox input"):
        before_image = control.evaluate(OUTPUT_IMAGE)
        checkbox.click()
        problems += _redrawn(page, control, before_image, f"control {index}, checkbox")
    if not sliders and not control.query_selector_all(".widget-dropdown, .widget-checkbox"):
        problems.append(f"control {index}: nothing to operate")
    return problems


def runs(chapter: str) -> bool:
    """Whether the test runs a chapter's cells in JupyterLab: those with a control, which needs the
    kernel's state to operate. The others are opened and their markdown checked; their cells run in
    the full-profile dry run, whose outputs the site build renders (tests/test_book.py), so running
    them here too would only spend `make test`'s time."""
    return _controls(ROOT / "notebooks" / f"{chapter}.ipynb") > 0


class Chapters:
    """Each chapter in its own page (and JupyterLab workspace), run two at a time: while one
    chapter's controls are operated, the next one's cells already run, so that the two cores stay
    busy."""

    def __init__(self, browser, url: str):
        self.browser, self.url, self.pages, self.errors = browser, url, {}, {}
        self.order: list[str] = []

    def start(self, chapter: str) -> None:
        """Open a chapter in its own page and, where :func:`runs` says so, run its cells."""
        if chapter in self.pages:
            return
        page = self.browser.new_page(viewport={"width": 1366, "height": 900})
        errors = self.errors[chapter] = []
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        self.pages[chapter] = page
        page.goto(f"{self.url}/lab/workspaces/{chapter}/tree/notebooks/{chapter}.ipynb?reset",
                  wait_until="domcontentloaded")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        if runs(chapter):
            _wait_for_kernel(self.url, f"notebooks/{chapter}.ipynb")
            page.click(".lm-MenuBar-item:has-text('Run')")
            page.click("li[data-command='runmenu:run-all']")

    def close(self, chapter: str) -> None:
        page = self.pages.pop(chapter, None)
        if page is not None:
            page.close()
        _shut_down_kernels(self.url, f"notebooks/{chapter}.ipynb")


@pytest.fixture(scope="module")
def chapters(lab, browser, request):
    runner = Chapters(browser, lab[0])
    runner.order = [item.callspec.params["chapter"] for item in request.session.items
                    if getattr(item, "originalname", "") == "test_chapter_in_jupyterlab"]
    yield runner
    for chapter in list(runner.pages):
        runner.close(chapter)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_in_jupyterlab(lab, chapters, chapter):
    url, work = lab
    notebook = work / "notebooks" / f"{chapter}.ipynb"
    cells = json.loads(notebook.read_text())["cells"]
    code_cells = sum(c["cell_type"] == "code" for c in cells)
    expected_controls = _controls(notebook)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    try:
        chapters.start(chapter)
        following = chapters.order.index(chapter) + 1          # the next chapter this session tests
        if following < len(chapters.order):
            chapters.start(chapters.order[following])
        page = chapters.pages[chapter]
        if runs(chapter):
            _wait_for_run(page, chapter, code_cells)
        else:                                  # rendered, not run: the markdown checks below
            page.wait_for_selector(".jp-RenderedMarkdown", timeout=60_000)
            if "$" in "".join(c["source"] for c in cells if c["cell_type"] == "markdown"):
                page.wait_for_selector(".jp-RenderedMarkdown mjx-container", timeout=60_000)
        errors = page.evaluate(ERRORS)
        assert not errors, f"{chapter}: error output in JupyterLab:\n" + "\n".join(errors)

        markdown = page.evaluate(MARKDOWN)
        problems += [f"markdown: {p}" for p in markdown["problems"]]
        sources = [c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                   for c in cells if c["cell_type"] == "markdown"]
        folded = re.compile(r"<summary>(Solution|Rubric)")
        solutions = sum(len(folded.findall(source)) for source in sources)
        if markdown["details"] != solutions:
            problems.append(f"markdown: {markdown['details']} folded solutions rendered, "
                            f"{solutions} written")
        if "$" in "".join(sources) and markdown["math"] == 0:
            problems.append("markdown: no formula typeset")

        controls = page.query_selector_all(".jp-Notebook .widget-interact")
        if len(controls) != expected_controls:
            problems.append(f"{len(controls)} controls shown for {expected_controls} control cells")
        for index, control in enumerate(controls):
            control.scroll_into_view_if_needed()
            page.wait_for_function(f"() => document.querySelectorAll('.jp-Notebook "
                                   f".widget-interact')[{index}]"
                                   ".querySelector('.widget-output img')",
                                   timeout=REDRAW_TIMEOUT_S * 1000)
            layout = control.evaluate(LAYOUT)
            problems += [f"control {index}: label cut: {text!r}" for text in layout["cut"]]
            problems += [f"control {index}: figure shrunk: {text}" for text in layout["shrunk"]]
            problems += _operate(page, control, index)
            if index == 0:
                page.screenshot(path=str(SCREENSHOTS / f"{chapter}_control.png"))
        for player in page.query_selector_all(".jp-Notebook .cnnlit-frames, .jp-Notebook "
                                              ".cnnlit-panels"):
            player.scroll_into_view_if_needed()
            layout = player.evaluate(LAYOUT)
            problems += [f"pre-rendered figure shrunk: {text}" for text in layout["shrunk"]]
        errors = page.evaluate(ERRORS)
        problems += [f"error output after operating the controls: {e}" for e in errors]
        problems += chapters.errors.get(chapter, [])
        page.screenshot(path=str(SCREENSHOTS / f"{chapter}.png"))
    finally:
        chapters.close(chapter)
    assert not problems, f"{chapter}:\n" + "\n".join(problems)


def _shut_down_kernels(url: str, path: str) -> None:
    """End a chapter's kernel once its test is done (each holds about 1 GB)."""
    with urllib.request.urlopen(f"{url}/api/sessions", timeout=10) as response:
        sessions = json.load(response)
    for session in sessions:
        if session.get("path") != path:
            continue
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()
