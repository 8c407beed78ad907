"""What the site build needs that the notebooks cannot say themselves.

- Training progress bars as text: the site has no kernel, so a progress-bar widget would render as
  an empty box. Every kernel this build starts inherits ``CNNLIT_PROGRESS=text``, and
  ``cnnlit.train`` then draws its bars as text, whose final line is what the page shows.
- MathJax from the site itself: ``mathjax_path`` points into ``_static``; without the files (fetched
  by ``tools/install_mathjax.sh``) every formula would stay raw ``\\(...\\)`` text, so the build
  says so.
"""
from __future__ import annotations

import os
from pathlib import Path

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


def setup(app):
    os.environ[PROGRESS_VARIABLE] = "text"          # before any notebook is executed
    app.connect("builder-inited", _check_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
