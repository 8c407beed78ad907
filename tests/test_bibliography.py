"""The bibliography holds every work the book cites, and every citation resolves to one entry.

The chapters cite with Markdown links, ``([Author, year](url))``, whose target is the entry's
``url``; the book pages cite with MyST's ``{cite}`key``` roles; plain ``Author et al. (year)`` text
may appear in either. Each form must name an entry of ``book/references.bib``, every entry must be
cited somewhere, and each idea the book uses must be credited to the work that had it first (the
table at the end)."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import citations  # noqa: E402

BIBFILE = ROOT / "book" / "references.bib"
REFERENCES = citations.references(BIBFILE)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PAGES = sorted((ROOT / "book").glob("*.md"))
COMMONMARK = MarkdownIt("commonmark", {"html": True})

CITE_ROLE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
NAME = r"[A-Z][\w'’-]+"
AUTHORS = rf"{NAME}(?: et al\.| and {NAME})?"
# "(Author et al., 2012)", "(Author, 2009)", "Author et al. (2012)", "Author and Other (2010)"
YEAR = r"(?:19|20)\d\d"
PLAIN_CITATION = re.compile(rf"\(({AUTHORS}), ({YEAR})\)"
                            rf"|({NAME} (?:et al\.|and {NAME})) \(({YEAR})\)")
AUTHOR_YEAR_LABEL = re.compile(rf"{AUTHORS}, {YEAR}")
BIBLIOGRAPHY_LINK = "book/bibliography.md"


def _markdown_cells():
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                source = cell["source"]
                text = source if isinstance(source, str) else "".join(source)
                yield f"{path.stem} {cell.get('id')}", text


MARKDOWN = list(_markdown_cells())


def _links(markdown: str):
    """(label, href) of every inline link in ``markdown``."""
    for token in COMMONMARK.parseInline(markdown):
        children = token.children or []
        for opening, text in zip(children, children[1:]):
            if opening.type == "link_open" and text.type == "text":
                yield text.content, opening.attrs["href"]


def _without_links_and_roles(markdown: str) -> str:
    markdown = re.sub(r"\[[^\]]*\]\([^)]*\)", "", markdown)
    return CITE_ROLE.sub("", markdown)


def _notebook_citations() -> dict[str, set[str]]:
    """{bib key: the cells that cite it} for every link citation in the notebooks."""
    by_url = {entry["url"]: key for key, entry in REFERENCES.items() if entry["url"]}
    by_label = {entry["label"]: key for key, entry in REFERENCES.items() if not entry["url"]}
    cited: dict[str, set[str]] = {}
    for where, source in MARKDOWN:
        for label, href in _links(source):
            to_page = href.endswith(BIBLIOGRAPHY_LINK)
            key = by_url.get(href) or (by_label.get(label) if to_page else None)
            if key:
                cited.setdefault(key, set()).add(where)
    return cited


def _page_citations() -> dict[str, set[str]]:
    cited: dict[str, set[str]] = {}
    for page in PAGES:
        for match in CITE_ROLE.finditer(page.read_text()):
            for key in match.group(1).split(","):
                cited.setdefault(key.strip(), set()).add(page.name)
    return cited


def test_there_is_something_to_check():
    assert len(REFERENCES) >= 20 and len(NOTEBOOKS) == 10 and len(MARKDOWN) > 100
    assert sum(len(cells) for cells in _notebook_citations().values()) > 50
    assert len(_page_citations()) >= 9


def test_every_entry_has_authors_title_year_and_one_url():
    from pybtex.database import parse_file

    entries = parse_file(str(BIBFILE), bib_format="bibtex").entries
    for key, entry in entries.items():
        assert entry.persons.get("author"), f"{key}: no author"
        assert entry.fields.get("title"), f"{key}: no title"
        if key != "jearanaitanakij_review":            # an unpublished review: no year, no link
            assert re.fullmatch(r"(19|20)\d\d", entry.fields.get("year", "")), f"{key}: no year"
            assert entry.fields.get("url", "").startswith("https://"), f"{key}: no https url"
    urls = [entry["url"] for entry in REFERENCES.values() if entry["url"]]
    assert len(urls) == len(set(urls)), "two entries share a url: a link would be ambiguous"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_cite_role_on_a_book_page_resolves(page):
    keys = [k.strip() for m in CITE_ROLE.finditer(page.read_text()) for k in m.group(1).split(",")]
    missing = sorted(set(keys) - set(REFERENCES))
    assert not missing, f"{page.name} cites {missing}, which book/references.bib lacks"


def test_every_link_citation_in_the_chapters_resolves_to_its_entry():
    by_url = {entry["url"]: key for key, entry in REFERENCES.items() if entry["url"]}
    unlinked = {entry["label"] for entry in REFERENCES.values() if not entry["url"]}
    problems = []
    for where, source in MARKDOWN:
        for label, href in _links(source):
            if href in by_url:
                if label != REFERENCES[by_url[href]]["label"]:
                    problems.append(f"{where}: [{label}] links {by_url[href]} "
                                    f"({REFERENCES[by_url[href]]['label']})")
            elif href.endswith(BIBLIOGRAPHY_LINK):
                if label not in unlinked:
                    problems.append(f"{where}: [{label}] points at the bibliography, "
                                    "which has no such entry")
            elif AUTHOR_YEAR_LABEL.fullmatch(label):
                problems.append(f"{where}: [{label}]({href}) cites a work the .bib lacks")
    assert not problems, "\n".join(problems)


def test_plain_author_year_text_names_an_entry():
    labels = {entry["label"] for entry in REFERENCES.values()}
    texts = MARKDOWN + [(page.name, page.read_text()) for page in PAGES]
    problems = []
    for where, text in texts:
        for match in PLAIN_CITATION.finditer(_without_links_and_roles(text)):
            authors, year = match.group(1, 2) if match.group(1) else match.group(3, 4)
            if f"{authors}, {year}" not in labels:
                problems.append(f"{where}: {match.group(0)!r} is not an entry of the .bib")
    assert not problems, "\n".join(problems)


def test_the_plain_citation_pattern_finds_citations_and_nothing_else():
    found = [m.group(0) for m in PLAIN_CITATION.finditer(
        "as Nair and Hinton (2010) showed, and (Hinton et al., 2012) or (Fukushima, 1980); "
        "LeNet-5 (1998) and ILSVRC (2012) are not citations")]
    assert found == ["Nair and Hinton (2010)", "(Hinton et al., 2012)", "(Fukushima, 1980)"]


def test_every_entry_is_cited_somewhere():
    cited = set(_notebook_citations()) | set(_page_citations())
    orphans = sorted(set(REFERENCES) - cited)
    assert not orphans, f"entries nobody cites: {orphans}"


# Ideas credited to the work that had them, in the chapter that uses them (DESIGN: "every idea is
# credited to the paper that had it first"). (chapter, key, why)
CREDITS = [
    ("00_foundations", "jarrett2009best", "max-pooling before AlexNet"),
    ("00_foundations", "ciresan2011flexible", "max-pooling networks on GPUs before AlexNet"),
    ("01_lenet5", "fukushima1980neocognitron", "convolution and subsampling: the Neocognitron"),
    ("01_lenet5", "lecun1989backpropagation", "convolutional networks trained by back-propagation"),
    ("01_lenet5", "hinton2012improving", "the dropout AlexNet used"),
    ("02_alexnet", "hinton2012improving", "dropout: AlexNet section 4.2 cites it"),
    ("02_alexnet", "nair2010rectified", "ReLU: AlexNet section 3.1 follows it"),
    ("02_alexnet", "jarrett2009best", "a rectifying nonlinearity in CNNs: AlexNet section 3.1"),
    ("02_alexnet", "lecun1998gradient", "augmentation by distortions predates AlexNet"),
    ("02_alexnet", "krizhevsky2014one", "torchvision's single-tower AlexNet"),
    ("03_zfnet", "zeiler2011adaptive", "the deconvnet: ZF section 2.1"),
    ("04_vgg", "lin2014network", "1x1 convolutions"),
    ("07_resnet", "he2016identity", "the identity-path gradient argument, pre-activation blocks"),
    ("08_transfer", "yosinski2014transferable", "how transferable features are, layer by layer"),
    ("08_transfer", "he2016deep", "the residual network the chapter transfers"),
    ("09_comparison", "nair2010rectified", "ReLU in the table of changes"),
    ("09_comparison", "hinton2012improving", "dropout in the table of changes"),
    ("09_comparison", "zeiler2011adaptive", "the deconvnet in the table of changes"),
]


@pytest.mark.parametrize("chapter, key, why", CREDITS,
                         ids=[f"{chapter[:2]}-{key}" for chapter, key, _ in CREDITS])
def test_ideas_are_credited_where_they_are_used(chapter, key, why):
    assert key in REFERENCES, f"{key} is not in book/references.bib"
    cells = _notebook_citations().get(key, set())
    assert any(cell.startswith(chapter) for cell in cells), f"{chapter} does not cite {key} ({why})"


def test_book_pages_credit_the_borrowed_ideas():
    pages = _page_citations()
    for key in ("fukushima1980neocognitron", "lecun1989backpropagation", "nair2010rectified",
                "hinton2012improving", "zeiler2011adaptive"):
        assert {"intro.md", "summary.md"} & pages.get(key, set()), \
            f"neither the intro nor the summary cites {key}"
