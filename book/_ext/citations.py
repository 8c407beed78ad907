"""Citations that read right in every renderer of a notebook, and lead to the bibliography on the
site.

A notebook is read on the site (MyST), in JupyterLab and on Colab (plain Markdown), so it cites with
a plain Markdown link: ``([Krizhevsky et al., 2012](https://papers.nips.cc/...))`` — the text is the
author-year label of the entry in ``book/references.bib`` and the target is that entry's ``url``
(the paper itself). Outside the site the link leads to the paper. On the site this extension points
every such link at the entry in the bibliography page instead, where the entry links the paper in
turn.

:func:`references` and :func:`label` are used by the tests too (every citation's text must match its
entry).
"""
from __future__ import annotations

import codecs
from pathlib import Path

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
from docutils import nodes
from docutils.nodes import make_id
from pybtex.database import parse_file

BIBLIOGRAPHY_PAGE = "book/bibliography"          # the page with the {bibliography} directive
# sphinxcontrib-bibtex's ``bibtex_cite_id`` (in _config.yml)
CITE_ID = "cite-{key}"


def _plain(latex: str) -> str:
    return codecs.decode(latex, "ulatex").replace("{", "").replace("}", "")


def label(entry) -> str:
    """The author-year label: ``LeCun et al., 1998``, ``Zeiler and Fergus, 2014``, ``Krizhevsky,
    2009``; an entry without a year gives the names alone."""
    surnames = [_plain(" ".join(person.last_names)) for person in entry.persons.get("author", [])]
    if not surnames:
        raise ValueError(f"bibliography entry {entry.key} has no author")
    names = (
        surnames[0]
        if len(surnames) == 1
        else f"{surnames[0]} and {surnames[1]}"
        if len(surnames) == 2
        else f"{surnames[0]} et al."
    )
    year = entry.fields.get("year")
    return f"{names}, {year}" if year else names


def references(bibfile: Path) -> dict[str, dict]:
    """``{key: {"label": ..., "url": ... or None}}`` for every entry of ``bibfile``."""
    data = parse_file(str(bibfile), bib_format="bibtex")
    return {key: {"label": label(entry),
                  "url": entry.fields.get("url")} for key, entry in data.entries.items()}


def anchor(key: str) -> str:
    """The id of ``key``'s entry on the bibliography page."""
    return make_id(CITE_ID.format(key=key))


def _link_citations_to_bibliography(app, doctree, docname) -> None:
    if docname == BIBLIOGRAPHY_PAGE or BIBLIOGRAPHY_PAGE not in app.env.all_docs:
        return
    by_url = {}
    for bibfile in app.config.bibtex_bibfiles:
        for key, entry in references(Path(app.srcdir) / bibfile).items():
            if entry["url"]:
                by_url[entry["url"]] = key
    target = app.builder.get_relative_uri(docname, BIBLIOGRAPHY_PAGE)
    for reference in doctree.findall(nodes.reference):
        key = by_url.get(reference.get("refuri"))
        if key is not None:
            reference["refuri"] = f"{target}#{anchor(key)}"
            reference["internal"] = True
            reference["classes"].append("cnnlit-citation")


def setup(app):
    app.connect("doctree-resolved", _link_citations_to_bibliography)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
