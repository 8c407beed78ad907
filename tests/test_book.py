"""The rendered site: built with warnings as errors (in make test from the full-profile dry run's
executed notebooks, otherwise in the smoke profile), then checked file by file and
in a real browser (headless Chromium): every page loads without console errors, missing images,
broken internal links or any request outside the site; every formula is typeset by the site's own
MathJax; no page carries a widget that cannot work without a kernel, and every former control's
counterpart (a slider over pre-rendered frames) changes its picture when moved. Screenshots are
saved under _build/screenshots/."""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SITE_ROOT = ROOT / "_build" / "smoke-site"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CONTROL_TAGS = {"skip-execution", "remove-cell"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# tqdm's "3/5 [00:04<...epoch/s]"
PROGRESS_LINE = re.compile(r"(?P<done>\d+)/(?P<total>\d+) \[[^\]\n]*epoch")

pytestmark = pytest.mark.book


def _cells(chapter: str) -> list[dict]:
    return json.loads((ROOT / "notebooks" / f"{chapter}.ipynb").read_text())["cells"]


def _source(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def controls(chapter: str) -> list[str]:
    """The live controls' cells of a chapter (tagged to be neither executed nor shown on the site).
    """
    return [_source(c) for c in _cells(chapter)
            if c["cell_type"] == "code" and CONTROL_TAGS <= set(c.get("metadata",
                                                                      {}).get("tags", []))]


def counterparts(chapter: str) -> list[str]:
    return [_source(c) for c in _cells(chapter) if c["cell_type"] == "code"
            and re.search(r"^(frames|small_multiples)\(", _source(c), flags=re.MULTILINE)]


# make test runs the full-profile dry run first, which writes every chapter it ran with its outputs
# into this folder (conftest.py: CNNLIT_EXECUTED_NOTEBOOKS); the site build then renders those
# instead of running every chapter a second time.
OUTPUTS_VARIABLE = "CNNLIT_SITE_OUTPUTS"
SITE_CACHE = SITE_ROOT / "_build" / ".jupyter_cache"           # where jupyter-book keeps its own


def cache_executed_notebooks(folder: Path, cache_path: Path = SITE_CACHE,
                             sources: Path = ROOT / "notebooks") -> list[str]:
    """Put each notebook executed in ``folder`` (every code cell run) into the site build's
    execution cache, where the build takes it as the outputs of the notebook of the same name in
    ``sources`` as long as that notebook's code is what ran; a chapter changed since, or missing
    there, runs in the smoke profile as before. Returns the names cached."""
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache, cached = get_cache(str(cache_path)), []
    for path in sorted(folder.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        if any(c.cell_type == "code" and c.execution_count is None for c in notebook.cells):
            continue                                   # stopped before its end
        cache.cache_notebook_bundle(CacheBundleIn(notebook, uri=str(sources / path.name)),
                                    check_validity=False, overwrite=True)
        cached.append(path.stem)
    return cached


@pytest.fixture(scope="session")
def site() -> Path:
    """Build the book once per session, with warnings as errors: from the dry run's executed
    notebooks where ``CNNLIT_SITE_OUTPUTS`` names them (make test), the rest executed in the smoke
    profile. The pages of an earlier build go first (a renamed chapter's old page would stay
    otherwise); the executed notebooks it cached stay."""
    subprocess.run([str(ROOT / "tools" / "install_mathjax.sh")], check=True, timeout=600)
    shutil.rmtree(SITE_ROOT / "_build" / "html", ignore_errors=True)
    if os.environ.get(OUTPUTS_VARIABLE):
        cache_executed_notebooks(ROOT / os.environ[OUTPUTS_VARIABLE])
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    environment = dict(os.environ, CNNLIT_PROFILE="smoke")
    result = subprocess.run([str(jupyter_book), "build", str(ROOT), "--path-output", str(SITE_ROOT),
                             "-W", "-n", "--keep-going"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=3000)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"jupyter-book build failed:\n{log[-6000:]}"
    return SITE_ROOT / "_build" / "html"


def test_the_site_renders_a_notebook_the_dry_run_executed_only_while_its_code_is_the_same(
        tmp_path):
    """The repository's conftest under nbval with ``CNNLIT_EXECUTED_NOTEBOOKS`` writes the notebook
    with each cell's outputs and count; the site build's cache then gives those outputs to the
    notebook of that name, and nothing to it once a line of its code has changed."""
    nbformat = pytest.importorskip("nbformat")
    from jupyter_cache import get_cache

    (tmp_path / "conftest.py").write_text(
        f"import runpy\nhooks = runpy.run_path({str(ROOT / 'conftest.py')!r})\n"
        "globals().update({k: v for k, v in hooks.items() if not k.startswith('__')})\n")
    sources = tmp_path / "notebooks"
    sources.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A chapter"),
                                               nbformat.v4.new_code_cell("print('hello')"),
                                               nbformat.v4.new_code_cell("6 * 7")])
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                       "name": "python3"}
    nbformat.write(notebook, sources / "00_example.ipynb")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CNNLIT_")}
    environment["CNNLIT_EXECUTED_NOTEBOOKS"] = str(tmp_path / "executed")
    result = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "notebooks",
                             "-p", "no:cacheprovider", "-q"], cwd=tmp_path, env=environment,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

    executed = nbformat.read(tmp_path / "executed" / "00_example.ipynb", as_version=4)
    cells = [c for c in executed.cells if c.cell_type == "code"]
    assert [c.execution_count for c in cells] == [1, 2]
    assert cells[0].outputs[0].text == "hello\n"
    assert cells[1].outputs[0].data["text/plain"] == "42"
    assert cells[1].outputs[0].execution_count == 2

    cache_path = tmp_path / "cache"
    assert cache_executed_notebooks(tmp_path / "executed", cache_path, sources) == ["00_example"]
    cache = get_cache(str(cache_path))
    assert cache.match_cache_notebook(nbformat.read(sources / "00_example.ipynb", 4)) is not None
    _, merged = cache.merge_match_into_notebook(nbformat.read(sources / "00_example.ipynb", 4))
    assert merged.cells[2].outputs[0].data["text/plain"] == "42"
    notebook.cells[2].source = "6 * 9"                         # the chapter changed since the run
    with pytest.raises(KeyError):
        cache.match_cache_notebook(notebook)


def _page(site: Path, chapter: str) -> str:
    return (site / "notebooks" / f"{chapter}.html").read_text()


def test_index_and_every_chapter_page_exist(site):
    assert (site / "index.html").exists()
    for chapter in CHAPTERS:
        assert (site / "notebooks" / f"{chapter}.html").exists(), f"{chapter} was not rendered"
    for page in ("how_to_use", "summary", "bibliography"):
        assert (site / "book" / f"{page}.html").exists()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_page_carries_an_executed_figure(site, chapter):
    html = _page(site, chapter)
    figures = re.findall(r'<img[^>]+src="(\.\./_images/[^"]+\.png)"', html)
    assert figures, f"{chapter}: no executed figure on the page"
    for source in figures:
        assert (site / "notebooks" / source).resolve().exists(), f"{chapter}: {source} is missing"
    assert "Traceback" not in html and "PaperMismatch" not in html


def test_every_image_has_alt_text_that_is_not_a_path(site):
    """Every <img> of the site says what it shows (cnnlit.alt_text, book/_ext/site_build.py): an
    alt that is neither missing nor a file's path; a figure's alt is a sentence from its words."""
    pages = sorted(site.rglob("*.html"))
    images = 0
    for page in pages:
        html = page.read_text()
        for tag in re.findall(r"<img\b[^>]*>", html):
            images += 1
            name = page.relative_to(site)
            alt = re.search(r'\salt="([^"]*)"', tag)
            assert alt and alt.group(1).strip(), f"{name}: an image without alt text: {tag[:160]}"
            text = alt.group(1)
            source = re.search(r'\ssrc="([^"]*)"', tag)
            assert not re.search(r"\.(png|jpe?g|svg|gif)\b", text) and "_images/" not in text, (
                f"{name}: alt text is a path: {text!r}")
            assert not (source and text == source.group(1)), f"{name}: alt repeats the src"
            if source and "_images/" in source.group(1):
                assert text.startswith("Figure"), f"{name}: a figure's alt {text!r}"
    assert images, "no image on the site"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_page_carries_a_widget_and_every_control_has_its_counterpart(site, chapter):
    html = _page(site, chapter)
    assert WIDGET_VIEW not in html and "jupyter-widgets" not in html, (
        f"{chapter}: a widget on the site"
    )
    assert "@jupyter-widgets/html-manager" not in html and "require.min.js" not in html
    live = controls(chapter)
    assert len(counterparts(chapter)) == len(live), (f"{chapter}: every control needs one "
                                                     f"counterpart")
    shown = html.count('class="cnnlit-frames"') + html.count('class="cnnlit-panels"')
    assert shown == len(live), (f"{chapter}: {shown} counterparts on the page for {len(live)} "
                                f"controls")
    for source in live:
        call = source.strip().splitlines()[0][:40]
        assert call not in html, f"{chapter}: the control {call!r} is shown on the site"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_progress_bars_read_as_their_final_line_of_text(site, chapter):
    trains = any(re.search(r"\bfit\(", _source(c)) and "progress=False" not in _source(c)
                 for c in _cells(chapter) if c["cell_type"] == "code")
    text = re.sub(r"<[^>]+>", "", _page(site, chapter))
    bars = list(PROGRESS_LINE.finditer(text))
    if not trains:
        assert not bars
        return
    assert bars, f"{chapter}: training ran but no progress bar's text is on the page"
    for bar in bars:                        # only final states: no bar left at its first line (0/N)
        assert int(bar["done"]) >= 1, (f"{chapter}: a progress bar shows {bar.group(0)!r}, not its "
                                       f"last line")


def test_bibliography_lists_the_six_papers_and_every_entry_has_an_anchor(site):
    html = (site / "book" / "bibliography.html").read_text()
    lowered = html.lower()                              # the style lower-cases titles
    for title in ("Gradient-Based Learning", "ImageNet Classification",
                  "Visualizing and Understanding",
                  "Very Deep Convolutional", "Going Deeper", "Deep Residual Learning"):
        assert title.lower() in lowered, f"{title} is not in the bibliography"
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import citations
    for key in citations.references(ROOT / "book" / "references.bib"):
        assert f'id="{citations.anchor(key)}"' in html, (
            f"{key} has no anchor on the bibliography page"
        )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_citations_link_to_the_bibliography_on_the_site(site, chapter):
    html = _page(site, chapter)
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import citations
    references = citations.references(ROOT / "book" / "references.bib")
    cited = re.findall(r'<a class="[^"]*cnnlit-citation[^"]*" href="([^"]+)"[^>]*>([^<]+)</a>',
                       html)
    notebook_links = sum(
        _source(c).count(f"]({entry['url']})")
        for c in _cells(chapter)
        if c["cell_type"] == "markdown"
        for entry in references.values()
        if entry["url"]
    )
    assert len(cited) == notebook_links, (f"{chapter}: {len(cited)} of {notebook_links} citations "
                                          f"lead here")
    for href, text in cited:
        assert href.startswith("../book/bibliography.html#cite-"), f"{chapter}: {text} -> {href}"
    for entry in references.values():                        # on the site no citation leaves it
        if entry["url"]:
            assert f'href="{entry["url"]}"' not in html, (
                f"{chapter}: a citation links {entry['url']}"
            )


def _launch_settings() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text()).get("launch_buttons", {})


def test_launch_buttons_point_at_the_configured_repository(site):
    sys.path.insert(0, str(ROOT / "tools"))
    import notebooks as notebook_tools
    repository = notebook_tools.repository_url().rstrip("/")
    html = _page(site, CHAPTERS[-1])
    owner_and_name = urllib.parse.urlparse(repository).path.strip("/")
    assert "colab.research.google.com" in html and "mybinder.org" in html and owner_and_name in html


def test_jupyterhub_button_only_for_a_configured_hub(site):
    hub = _launch_settings().get("jupyterhub_url")
    html = _page(site, CHAPTERS[-1])
    assert "hub.example" not in html, "a launch button points at a placeholder hub"
    if hub:
        assert hub.rstrip("/") + "/hub/user-redirect/git-pull" in html
    else:
        assert "user-redirect/git-pull" not in html and "JupyterHub" not in html


@pytest.fixture(scope="session")
def served_site(site):
    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


TYPESET = """() => {
    const math = Array.from(document.querySelectorAll('.math'));
    const article = document.querySelector('article') || document.body;
    const clone = article.cloneNode(true);
    const hidden = 'pre, code, script, style, mjx-container, mjx-assistive-mml, '
        + 'details:not([open])';
    clone.querySelectorAll(hidden).forEach(e => e.remove());
    return {math: math.length, typeset: math.filter(m => m.querySelector('mjx-container')).length,
            containers: document.querySelectorAll('mjx-container').length, text: clone.textContent};
}"""

MOVE_FRAMES = """async (player) => {
    const slider = player.querySelector('input[type=range]');
    const visible = () => Array.from(player.querySelectorAll('img[data-frame]'))
        .filter(i => !i.hidden);
    const label = () => player.querySelector('output').textContent;
    const before = {src: visible().map(i => i.src), label: label()};
    const target = Number(slider.value) === Number(slider.max) ? 0 : Number(slider.max);
    slider.value = String(target);
    slider.dispatchEvent(new Event('input', {bubbles: true}));
    const after = {src: visible().map(i => i.src), label: label()};
    return {before, after, frames: Number(slider.max) + 1};
}"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs it as "
                                             "root)")
def test_pages_in_a_real_browser(served_site, site):
    playwright = pytest.importorskip("playwright.sync_api")
    # index.html only redirects to the introduction: check the redirect, then browse the pages
    # themselves
    assert 'url=book/intro.html' in (site / "index.html").read_text()
    pages = (["book/intro.html", "book/how_to_use.html"] + [f"notebooks/{c}.html" for c in CHAPTERS]
             + ["book/summary.html", "book/bibliography.html"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems, typeset_on_chapters = [], 0
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        for page_path in pages:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors, outside = [], []
            local = served_site + "/"

            def on_console(message, errors=errors):
                if message.type == "error" and local in (message.location or {}).get("url", local):
                    errors.append(f"console: {message.text}")

            def on_request(request, outside=outside):
                if not request.url.startswith((local, "data:", "blob:", "about:")):
                    outside.append(request.url)

            page.on("console", on_console)
            page.on("request", on_request)
            page.on("pageerror", lambda error, errors=errors: errors.append(f"page error: {error}"))
            page.on("requestfailed", lambda request, errors=errors: errors.append(
                f"failed request: {request.url}") if request.url.startswith(local) else None)
            response = page.goto(f"{served_site}/{page_path}", wait_until="load")
            assert response is not None and response.ok, (
                f"{page_path}: HTTP {response and response.status}"
            )
            page.wait_for_load_state("networkidle")
            broken_images = page.evaluate(
                "() => Array.from(document.images).filter(i => !i.hidden && (!i.complete || "
                "i.naturalWidth === 0)).map(i => (i.getAttribute('src') || '').slice(0, 80))")
            errors += [f"missing image: {src}" for src in broken_images]
            links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => "
                                  "a.href)")
            local_links = [href for href in links if href.startswith(local)]
            for link in {urllib.parse.urldefrag(href)[0] for href in local_links}:
                target = site / urllib.parse.unquote(urllib.parse.urlparse(link).path.lstrip("/"))
                if target.is_dir():
                    target = target / "index.html"
                if not target.exists():
                    errors.append(f"broken internal link: {link}")
            # math: typeset by the site's MathJax, nothing raw left in the visible text
            page.wait_for_function("() => !document.querySelector('.math') || "
                                   "(window.MathJax && MathJax.startup && MathJax.startup.promise)",
                                   timeout=15000)
            page.evaluate(
                "() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null"
            )
            math = page.evaluate(TYPESET)
            if math["typeset"] < math["math"]:
                errors.append(f"math: {math['math'] - math['typeset']} of {math['math']} formulas "
                              f"not typeset")
            for raw in ("\\(", "\\[", "$$"):
                if raw in math["text"]:
                    at = math["text"].index(raw)
                    errors.append(f"raw math {raw!r} left in the text: "
                                  f"{math['text'][at - 40:at + 40]!r}")
            if page_path.startswith("notebooks/"):
                typeset_on_chapters += math["typeset"]
            # counterparts: moving each pre-rendered slider changes the picture and its label
            players = page.query_selector_all(".cnnlit-frames")
            for index, player in enumerate(players):
                moved = player.evaluate(MOVE_FRAMES)
                if moved["frames"] < 2 or len(moved["after"]["src"]) != 1:
                    errors.append(f"frames {index}: {moved['frames']} frames, "
                                  f"{len(moved['after']['src'])} shown")
                elif (
                    moved["after"]["src"] == moved["before"]["src"]
                    or moved["after"]["label"] == moved["before"]["label"]
                ):
                    errors.append(f"frames {index}: moving the slider did not change the picture "
                                  f"and its label")
            if players:
                players[0].scroll_into_view_if_needed()
                name = page_path.replace("/", "_").replace(".html", "")
                page.screenshot(path=str(SCREENSHOTS / f"{name}_counterpart.png"), full_page=False)
            errors += [f"request outside the site: {url}" for url in sorted(set(outside))]
            page.screenshot(path=str(SCREENSHOTS / (page_path.replace("/", "_") + ".png")),
                            full_page=False)
            problems += [f"{page_path}: {e}" for e in errors]
            page.close()
        browser.close()
    assert not problems, "\n".join(problems)
    assert typeset_on_chapters > 100, (f"only {typeset_on_chapters} formulas typeset on the "
                                       f"chapter pages")
