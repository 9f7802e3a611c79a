"""The bundled TrueType fonts, registered once with reportlab (resources/fonts/README.md).

CJK is the text face; SYMBOL covers what the CJK face lacks. DroidSansFallbackFull is a *fallback*
face: besides ☑ □ · and curly quotes it has no ASCII at all (no digits, no Latin letters), so text is
drawn in runs, each in the first face that has its characters (`font_runs`). reportlab embeds a
subset of each font used into every PDF.
"""

from __future__ import annotations

from functools import cache

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from clinic.resources import resources_dir

CJK = "DroidSansFallback"
SYMBOL = "DejaVuSans"
FILES = {CJK: "DroidSansFallbackFull.ttf", SYMBOL: "DejaVuSans.ttf"}


@cache
def register_fonts() -> tuple[str, str]:
    """Register both fonts (idempotent) and return their names (CJK, SYMBOL)."""
    for name, filename in FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(resources_dir() / "fonts" / filename)))
    return CJK, SYMBOL


@cache
def _cjk_covers() -> frozenset[int]:
    register_fonts()
    return frozenset(pdfmetrics.getFont(CJK).face.charToGlyph)


def font_runs(text: str) -> list[tuple[str, str]]:
    """Split text into (font, run) pieces: CJK where the CJK face has the character, else SYMBOL."""
    covered = _cjk_covers()
    runs: list[tuple[str, str]] = []
    for ch in text:
        font = CJK if ord(ch) in covered else SYMBOL
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + ch)
        else:
            runs.append((font, ch))
    return runs


def text_width(text: str, size: float, font: str = CJK) -> float:
    """Width in points; for the CJK face, of the mixed runs the text is really drawn in."""
    register_fonts()
    if font != CJK:
        return pdfmetrics.stringWidth(text, font, size)
    return sum(pdfmetrics.stringWidth(run, name, size) for name, run in font_runs(text))
