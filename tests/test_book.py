"""The rendered site: built in the smoke profile (warnings as errors), then checked file by file and in a
real browser (headless Chromium): every page loads without console errors, missing images or broken
internal links. Screenshots are saved under _build/screenshots/ for review."""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE_ROOT = ROOT / "_build" / "smoke-site"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.book


@pytest.fixture(scope="session")
def site() -> Path:
    """Build the book once per session, in the smoke profile, with warnings as errors."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    environment = dict(os.environ, CNNLIT_PROFILE="smoke")
    result = subprocess.run([str(jupyter_book), "build", str(ROOT), "--path-output", str(SITE_ROOT),
                             "-W", "-n", "--keep-going"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=3000)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"jupyter-book build failed:\n{log[-6000:]}"
    return SITE_ROOT / "_build" / "html"


def test_index_and_every_chapter_page_exist(site):
    assert (site / "index.html").exists()
    for chapter in CHAPTERS:
        assert (site / "notebooks" / f"{chapter}.html").exists(), f"{chapter} was not rendered"
    for page in ("how_to_use", "summary", "bibliography"):
        assert (site / "book" / f"{page}.html").exists()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_page_carries_an_executed_figure(site, chapter):
    html = (site / "notebooks" / f"{chapter}.html").read_text()
    figures = re.findall(r'<img[^>]+src="(\.\./_images/[^"]+\.png)"', html)
    assert figures, f"{chapter}: no executed figure on the page"
    for source in figures:
        assert (site / "notebooks" / source).resolve().exists(), f"{chapter}: {source} is missing"
    assert "Traceback" not in html and "PaperMismatch" not in html


def test_bibliography_lists_the_six_papers(site):
    html = (site / "book" / "bibliography.html").read_text().lower()     # the style lower-cases titles
    for title in ("Gradient-Based Learning", "ImageNet Classification", "Visualizing and Understanding",
                  "Very Deep Convolutional", "Going Deeper", "Deep Residual Learning"):
        assert title.lower() in html, f"{title} is not in the bibliography"


def test_launch_buttons_point_at_the_configured_repository(site):
    sys.path.insert(0, str(ROOT / "tools"))
    import notebooks as notebook_tools
    repository = notebook_tools.repository_url().rstrip("/")
    html = (site / "notebooks" / f"{CHAPTERS[-1]}.html").read_text()
    owner_and_name = urllib.parse.urlparse(repository).path.strip("/")
    assert "colab.research.google.com" in html and "mybinder.org" in html and owner_and_name in html


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


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs it as root)")
def test_pages_in_a_real_browser(served_site, site):
    playwright = pytest.importorskip("playwright.sync_api")
    # index.html only redirects to the introduction: check the redirect, then browse the pages themselves
    assert 'url=book/intro.html' in (site / "index.html").read_text()
    pages = (["book/intro.html", "book/how_to_use.html"] + [f"notebooks/{c}.html" for c in CHAPTERS]
             + ["book/summary.html", "book/bibliography.html"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        for page_path in pages:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            local = served_site + "/"

            def on_console(message, errors=errors):
                if message.type == "error" and local in (message.location or {}).get("url", local):
                    errors.append(f"console: {message.text}")

            page.on("console", on_console)
            page.on("pageerror", lambda error, errors=errors: errors.append(f"page error: {error}"))
            page.on("requestfailed", lambda request, errors=errors: errors.append(
                f"failed request: {request.url}") if request.url.startswith(local) else None)
            response = page.goto(f"{served_site}/{page_path}", wait_until="load")
            assert response is not None and response.ok, f"{page_path}: HTTP {response and response.status}"
            broken_images = page.evaluate(
                "() => Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                ".map(i => i.getAttribute('src'))")
            errors += [f"missing image: {src}" for src in broken_images]
            links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
            for link in {urllib.parse.urldefrag(l)[0] for l in links if l.startswith(local)}:
                target = site / urllib.parse.unquote(urllib.parse.urlparse(link).path.lstrip("/"))
                if target.is_dir():
                    target = target / "index.html"
                if not target.exists():
                    errors.append(f"broken internal link: {link}")
            page.screenshot(path=str(SCREENSHOTS / (page_path.replace("/", "_") + ".png")), full_page=False)
            problems += [f"{page_path}: {e}" for e in errors]
            page.close()
        browser.close()
    assert not problems, "\n".join(problems)
