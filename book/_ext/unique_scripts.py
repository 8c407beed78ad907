"""Sphinx extension for the book: drop repeated <script> entries from every page.

With sphinx-thebe 0.3.x under Jupyter Book the inline script that declares ``const THEBE_JS_URL``
reaches each page twice, and the browser stops on the second declaration ("Identifier 'THEBE_JS_URL'
has already been declared"). Just before a page is rendered, keep the first copy of each script.
"""
from __future__ import annotations


def _key(script) -> tuple:
    """A script's file name and attributes (an inline script's body is an attribute). An inline
    script's file name is None in one copy and "" in the other, so both count as ""."""
    attributes = tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items()))
    return str(getattr(script, "filename", script) or ""), attributes


def unique(scripts) -> list:
    seen, kept = set(), []
    for script in scripts:
        if _key(script) not in seen:
            seen.add(_key(script))
            kept.append(script)
    return kept


def drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    if context.get("script_files"):
        context["script_files"][:] = unique(context["script_files"])


def setup(app):
    app.connect("html-page-context", drop_repeated_scripts, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
