"""The bundled TrueType fonts, registered once with reportlab (resources/fonts/README.md).

CJK is the text face; SYMBOL covers the few signs (☑ □ ·) the CJK face lacks. reportlab embeds a
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


def text_width(text: str, size: float, font: str = CJK) -> float:
    register_fonts()
    return pdfmetrics.stringWidth(text, font, size)
