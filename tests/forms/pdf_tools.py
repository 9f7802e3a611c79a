"""Reading printed PDFs back with poppler, as a person checking the paper would: the text, the fonts,
where each word sits on the page, and the page as an image."""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
from dataclasses import dataclass
from html import unescape
from pathlib import Path

from PIL import Image

PT_PER_MM = 72 / 25.4


def _run(*command: str, pdf: bytes) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "form.pdf"
        path.write_bytes(pdf)
        done = subprocess.run([*command, str(path), *(["-"] if command[0] == "pdftotext" else [])],
                              capture_output=True, timeout=60, check=True)
    return done.stdout


def page_texts(pdf: bytes) -> list[str]:
    """Each page's text in the order it was drawn (`-raw`), so a wrapped cell reads on line by line."""
    text = _run("pdftotext", "-raw", "-enc", "UTF-8", pdf=pdf).decode("utf-8")
    return text.split("\f")[:-1]


def squash(text: str) -> str:
    """Without any white space: labels spaced out on the form (医    生) and wrapped values compare whole."""
    return re.sub(r"\s+", "", text)


def page_count(pdf: bytes) -> int:
    return len(page_texts(pdf))


@dataclass(frozen=True)
class Font:
    name: str
    type: str
    embedded: bool
    subset: bool


def fonts(pdf: bytes) -> list[Font]:
    lines = _run("pdffonts", pdf=pdf).decode("utf-8").splitlines()[2:]
    found = []
    for line in lines:
        # name type [type…] encoding emb sub uni object ID: read the yes/no flags from the right.
        parts = line.split()
        emb, sub = parts[-5], parts[-4]
        found.append(Font(parts[0], " ".join(parts[1:-6]), emb == "yes", sub == "yes"))
    return found


@dataclass(frozen=True)
class Word:
    text: str
    left: float      # mm from the page's left edge
    top: float       # mm from the page's top edge
    right: float
    bottom: float


_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')


def words(pdf: bytes, page: int = 1) -> list[Word]:
    html = _run("pdftotext", "-bbox", "-enc", "UTF-8", "-f", str(page), "-l", str(page), pdf=pdf).decode("utf-8")
    return [Word(unescape(text), *(float(v) / PT_PER_MM for v in box))
            for *box, text in ((m[0], m[1], m[2], m[3], m[4]) for m in _WORD.findall(html))]


def text_in_box(found: list[Word], left: float, top: float, right: float, bottom: float,
                slack: float = 0.3) -> str:
    """The words lying wholly inside the box (mm), top to bottom, squashed together."""
    inside = [w for w in found if w.left >= left - slack and w.right <= right + slack
              and w.top >= top - slack and w.bottom <= bottom + slack]
    return squash("".join(w.text for w in sorted(inside, key=lambda w: (round(w.top, 1), w.left))))


def render(pdf: bytes, page: int = 1, dpi: int = 50) -> Image.Image:
    """One page in grey, as pdftoppm draws it."""
    png = _run("pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-gray", "-png", pdf=pdf)
    return Image.open(io.BytesIO(png)).convert("L")
