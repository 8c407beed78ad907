"""Alt text for the book's figures: a sentence read from the figure itself (its title, axis labels,
legend entries), carried by the PNG a notebook shows so that the site can use it.

>>> import matplotlib.pyplot as plt
>>> figure, axis = plt.subplots()
>>> _ = axis.plot([1, 2], label="ReLU"), axis.plot([2, 1], label="tanh"), axis.legend()
>>> _ = axis.set(title="Training error", xlabel="epoch", ylabel="training error")
>>> describe(figure)
'Figure: Training error; x: epoch, y: training error; legend: ReLU, tanh.'

In an IPython kernel, :func:`install` (run by ``import cnnlit``) makes every matplotlib figure's
``image/png`` output carry that sentence twice: as the output's ``alt`` metadata and inside the PNG
as its standard ``Description`` text chunk, which the site build (``book/_ext/site_build.py``)
copies into the page's ``<img alt>``. The pixels are unchanged; JupyterLab shows the same image.
"""
from __future__ import annotations

import base64
import re
import struct
import sys
import zlib

KEYWORD = "Description"          # the PNG specification's keyword for "a description of the image"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PANELS = 6                   # panels described one by one; the rest are counted
MAX_LENGTH = 600                 # characters: a screen reader's sentence, not a table

__all__ = ["describe", "install", "read_description", "with_description"]


# --------------------------------------------------------------------------- the sentence

def _clean(text: str) -> str:
    """Plain words from a matplotlib label: no mathtext dollars or backslashes, one line."""
    text = re.sub(r"\\(?:mathrm|mathbf|mathit|text)\{([^}]*)\}", r"\1", text or "")
    text = re.sub(r"\\([A-Za-z]+)", r"\1", text).replace("$", "").replace("{", "").replace("}", "")
    return " ".join(text.split())


def _axes_sentence(axis) -> str:
    """Title; x and y labels; legend entries of one panel ('' when it has no words)."""
    parts = []
    title = "; ".join(t for t in (_clean(axis.get_title(loc)) for loc in ("left", "center",
                                                                         "right")) if t)
    if title:
        parts.append(title)
    axes = [f"{name}: {label}" for name, label in (("x", _clean(axis.get_xlabel())),
                                                   ("y", _clean(axis.get_ylabel()))) if label]
    if axes:
        parts.append(", ".join(axes))
    legend = axis.get_legend()
    entries = [_clean(t.get_text()) for t in legend.get_texts()] if legend is not None else []
    if any(entries):
        parts.append("legend: " + ", ".join(e for e in entries if e))
    return "; ".join(parts)


def _shorten(sentence: str) -> str:
    if len(sentence) <= MAX_LENGTH:
        return sentence
    return sentence[:MAX_LENGTH].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def describe(figure) -> str:
    """A sentence saying what ``figure`` shows, from its own words: the figure's ``alt_text``
    attribute when a drawing function set one, else its suptitle and, panel by panel, title, axis
    labels and legend entries (colour bars give their label). '' when the figure has no words."""
    explicit = getattr(figure, "alt_text", None)
    if explicit:
        return _shorten(" ".join(str(explicit).split()))
    head = _clean(figure._suptitle.get_text()) if getattr(figure, "_suptitle", None) else ""
    labels = (("x", getattr(figure, "_supxlabel", None)),
              ("y", getattr(figure, "_supylabel", None)))
    shared = [f"{name}: {_clean(text.get_text())}" for name, text in labels
              if text is not None and _clean(text.get_text())]
    panels = [axis for axis in figure.axes if axis.get_visible()]
    bars = [_clean(axis.get_ylabel() or axis.get_xlabel()) for axis in panels
            if axis.get_label() == "<colorbar>"]
    panels = [axis for axis in panels if axis.get_label() != "<colorbar>"]
    sentences = list(dict.fromkeys(s for s in (_axes_sentence(axis) for axis in panels) if s))
    if not (head or shared or sentences):
        return ""
    words = [head] if head else []
    if shared:
        words.append(", ".join(shared))
    if len(panels) > 1 and sentences:
        shown = sentences[:MAX_PANELS]
        more = len(sentences) - len(shown)
        listing = " | ".join(shown) + (f" | and {more} more" if more > 0 else "")
        words.append(f"{len(panels)} panels: {listing}")
    else:
        words.extend(sentences)
    if any(bars):
        words.append("colour: " + ", ".join(b for b in bars if b))
    return _shorten("Figure: " + ". ".join(words).rstrip(".") + ".")


# --------------------------------------------------------------------------- the PNG chunk

def _chunks(image: bytes):
    if image[:8] != PNG_SIGNATURE:
        raise ValueError("not a PNG image")
    position = 8
    while position + 8 <= len(image):
        length, kind = struct.unpack(">I4s", image[position:position + 8])
        yield kind, image[position + 8:position + 8 + length], position
        position += 12 + length


def with_description(image: bytes, text: str) -> bytes:
    """``image`` (PNG bytes) with ``text`` as its international-text ``Description`` chunk, right
    after the header; any earlier description is replaced."""
    kept, header_end = [], None
    for kind, data, position in _chunks(image):
        end = position + 12 + len(data)
        if kind == b"IHDR":
            header_end = end
        elif kind in (b"tEXt", b"iTXt") and data.split(b"\0", 1)[0] == KEYWORD.encode():
            kept.append((position, end))
    # iTXt: keyword, 0, not compressed (0, 0), no language tag (0), no translated keyword (0), text
    data = KEYWORD.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8")
    chunk = (struct.pack(">I", len(data)) + b"iTXt" + data
             + struct.pack(">I", zlib.crc32(b"iTXt" + data) & 0xFFFFFFFF))
    for start, end in reversed(kept):
        image = image[:start] + image[end:]
    return image[:header_end] + chunk + image[header_end:]


def read_description(image: bytes) -> str | None:
    """The ``Description`` text chunk of a PNG (tEXt or iTXt), or None."""
    for kind, data, _ in _chunks(image):
        keyword, _, rest = data.partition(b"\0")
        if keyword != KEYWORD.encode():
            continue
        if kind == b"tEXt":
            return rest.decode("latin-1")
        if kind == b"iTXt":
            compressed, rest = rest[0], rest[2:]
            _language, _, rest = rest.partition(b"\0")
            _translated, _, text = rest.partition(b"\0")
            return (zlib.decompress(text) if compressed else text).decode("utf-8")
    return None


# --------------------------------------------------------------------------- the kernel side

def described_output(figure, result):
    """A PNG formatter's ``result`` for ``figure`` (base64 text or bytes, optionally with its
    metadata) with the figure's sentence inside the PNG and as ``alt`` metadata."""
    if result is None:
        return result
    data, metadata = result if isinstance(result, tuple) else (result, None)
    sentence = describe(figure)
    if not sentence:
        return result
    if isinstance(data, str):
        image = with_description(base64.b64decode(data), sentence)
        data = base64.b64encode(image).decode("ascii")
    else:
        data = with_description(bytes(data), sentence)
    return data, {**(metadata or {}), "alt": sentence}


def _is_figure(obj) -> bool:
    figure = sys.modules.get("matplotlib.figure")
    return figure is not None and isinstance(obj, figure.Figure)


def _described_class(base: type) -> type:
    class DescribedPNGFormatter(base):
        """IPython's PNG formatter, whose figures also carry their alt sentence."""

        def __call__(self, obj):
            result = super().__call__(obj)
            if not _is_figure(obj):
                return result
            try:
                return described_output(obj, result)
            except Exception:                    # never lose a figure over its description
                return result

    DescribedPNGFormatter.cnnlit_alt = True
    return DescribedPNGFormatter


def install(shell=None) -> bool:
    """Make the running IPython kernel's PNG outputs of matplotlib figures carry their alt sentence.
    The formatter keeps its identity and registrations (the inline backend re-registers figures on
    it whenever it is configured), only its class gains the step above. Returns whether a shell
    was found; running it twice changes nothing."""
    if shell is None:
        if "IPython" not in sys.modules:
            return False
        shell = sys.modules["IPython"].get_ipython()
    formatters = getattr(getattr(shell, "display_formatter", None), "formatters", None)
    if not formatters or "image/png" not in formatters:
        return False
    formatter = formatters["image/png"]
    if not getattr(type(formatter), "cnnlit_alt", False):
        formatter.__class__ = _described_class(type(formatter))
    return True
