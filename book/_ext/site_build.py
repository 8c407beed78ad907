"""What the site build needs that the notebooks cannot say themselves.

- Training progress bars as text: the site has no kernel, so a progress-bar widget would render as
  an empty box. Every kernel this build starts inherits ``CNNLIT_PROGRESS=text``, and
  ``cnnlit.train`` then draws its bars as text, whose final line is what the page shows.
- MathJax from the site itself: ``mathjax_path`` points into ``_static``; without the files (fetched
  by ``tools/install_mathjax.sh``) every formula would stay raw ``\\(...\\)`` text, so the build
  says so.
- Alt text: MyST-NB names an output image by its hash and gives it no ``alt``, so the page would
  say the file's path. ``cnnlit`` writes each figure's sentence (title, axes, legend; see
  ``cnnlit/alt_text.py``) into its PNG's ``Description`` chunk; :class:`FigureAltText` copies it
  into the image's ``alt``, and an image without one is described by the code line that drew it.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

PROGRESS_VARIABLE = "CNNLIT_PROGRESS"        # read by cnnlit.train (its progress bars)
logger = logging.getLogger(__name__)


def _check_mathjax(app) -> None:
    path = app.config.mathjax_path
    if "://" in path or path.startswith("/"):
        logger.warning(f"mathjax_path {path!r} is not served by the site; formulas need the "
                       f"internet to typeset")
        return
    if not any(
        (Path(app.confdir) / folder / path).exists() for folder in app.config.html_static_path
    ):
        logger.warning(f"MathJax is missing: no {path} in {app.config.html_static_path}; "
                       "run tools/install_mathjax.sh (make book does)")


def _alt_text_module():
    """cnnlit/alt_text.py of this repository, loaded alone (no torch in the build's process)."""
    path = Path(__file__).resolve().parents[2] / "cnnlit" / "alt_text.py"
    spec = importlib.util.spec_from_file_location("cnnlit_site_alt_text", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ALT_TEXT = _alt_text_module()


def png_description(path: Path) -> str | None:
    """The ``Description`` text a PNG file carries (see cnnlit/alt_text.py), or None."""
    try:
        return ALT_TEXT.read_description(path.read_bytes())
    except (OSError, ValueError):
        return None


def _drawing_line(image: nodes.image) -> str:
    """The last code line of the notebook cell whose output ``image`` is ('' if none)."""
    cell = image.parent
    while cell is not None and "cell" not in cell.get("classes", []):
        cell = cell.parent
    blocks = list(cell.findall(nodes.literal_block)) if cell is not None else []
    lines = [line.strip() for line in (blocks[0].astext() if blocks else "").splitlines()]
    code = [line for line in lines if line and not line.startswith("#")]
    return code[-1] if code else ""


def alt_sentence(image: nodes.image, path: Path | None) -> str:
    """What ``image`` shows: its PNG's description, else the code that drew it, never a path."""
    described = png_description(path) if path is not None else None
    if described:
        return described
    line = _drawing_line(image)
    return f"Figure drawn by the code: {line}" if line else "Figure: an output of the code above"


class FigureAltText(SphinxTransform):
    """Give every image of a page without its own ``alt`` the sentence its figure carries."""

    default_priority = 400

    def apply(self, **kwargs) -> None:
        for image in self.document.findall(nodes.image):
            uri = image.get("uri", "")
            if image.get("alt") or "://" in uri or uri.startswith("data:"):
                continue
            path = Path(self.env.relfn2path(uri, self.env.docname)[1]) if uri else None
            image["alt"] = alt_sentence(image, path)


def setup(app):
    os.environ[PROGRESS_VARIABLE] = "text"          # before any notebook is executed
    app.connect("builder-inited", _check_mathjax)
    app.add_transform(FigureAltText)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
