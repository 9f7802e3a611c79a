"""Text fitting and grid drawing shared by the printed forms.

Forms are laid out in millimetres from the page's top-left corner, the way one measures a paper form
with a ruler; `Sheet` converts to PDF points. Text never leaves its box: it shrinks down to a minimum
size, then wraps (or wraps first, for paragraphs), and only when even the minimum size has no room
left is the last line cut with an ellipsis (`Fitted.truncated`) — so a long name or address can never
print over the next cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from clinic.money import fmt
from forms.fonts import CJK, font_runs, register_fonts

LEADING = 1.25            # line height as a multiple of the font size
# The baseline sits this far (× size) below the middle of its line, which centres CJK glyphs
# (em box −0.12…0.88) and digits (cap height 0.73) alike.
BASELINE_BELOW_MIDDLE = 0.36
# Wrapping keeps runs of Latin letters and digits together (5mg, 0.5g, an ID number) when they fit.
_TOKEN = re.compile(r"[A-Za-z0-9.%/+\-_#]+|.", re.S)
_TAIL = re.compile(r"[A-Za-z0-9.%/+\-_#]+$")
# A line never starts with closing punctuation (禁则): the character before it moves down too.
_CLOSING = frozenset("，。、；：？！）》」』”’,.;:?!)%")
# A one-line cell shrinks to this fraction of its size before it wraps onto two smaller lines.
SHRINK_BEFORE_WRAP = 0.75


@cache
def _advance(ch: str) -> float:
    """Width of one character at 1 pt, in the face it is drawn in."""
    ((font, _),) = font_runs(ch)
    return pdfmetrics.stringWidth(ch, font, 1000) / 1000


def width(text: str, size: float) -> float:
    """Width in points of `text` at `size`, drawn in mixed font runs."""
    return size * sum(_advance(ch) for ch in text)


def width_mm(text: str, size: float) -> float:
    return width(text, size) / mm


def wrap(text: str, size: float, max_width: float) -> list[str]:
    """Break text into lines no wider than max_width (points); newlines start new lines."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_paragraph(paragraph, size, max_width))
    return lines


def _wrap_paragraph(paragraph: str, size: float, max_width: float) -> list[str]:
    lines: list[str] = []
    line, line_w = "", 0.0
    for token in _TOKEN.findall(paragraph):
        pieces = [token] if width(token, size) <= max_width else list(token)
        for piece in pieces:
            piece_w = width(piece, size)
            if not line or line_w + piece_w <= max_width:
                line, line_w = line + piece, line_w + piece_w
                continue
            carry = ""
            if piece[0] in _CLOSING:
                # The closing mark takes down what it closes: a whole number or unit, else one character.
                tail = _TAIL.search(line)
                for moved in ((tail.group(), line[-1]) if tail else (line[-1],)):
                    if len(moved) < len(line) and width(moved + piece, size) <= max_width:
                        line, carry = line[:-len(moved)], moved
                        break
            lines.append(line.rstrip())
            line = (carry + piece).lstrip()
            line_w = width(line, size)
    lines.append(line.rstrip())
    return lines


def ellipsize(text: str, size: float, max_width: float) -> str:
    while text and width(text + "…", size) > max_width:
        text = text[:-1]
    return text + "…"


@dataclass(frozen=True)
class Fitted:
    size: float
    lines: tuple[str, ...]
    truncated: bool = False

    @property
    def height(self) -> float:
        return len(self.lines) * self.size * LEADING


def _sizes(size: float, min_size: float, step: float = 0.5) -> list[float]:
    sizes = []
    while size > min_size:
        sizes.append(size)
        size -= step
    return [*sizes, min_size]


def fit_text(text: str, box_w: float, box_h: float, size: float, min_size: float, *,
             wrap_first: bool = False) -> Fitted:
    """The largest size from `size` down to `min_size` at which the text fits the box (points).

    Cells (wrap_first=False) first try one line shrinking to 3/4 of the size, then wrap at each size
    down to the minimum; paragraphs wrap at once. At the minimum size the lines that fit are kept, the
    last one cut."""
    text = (text or "").strip()
    if not wrap_first and "\n" not in text:
        for s in _sizes(size, max(min_size, size * SHRINK_BEFORE_WRAP)):
            if width(text, s) <= box_w and s * LEADING <= box_h:
                return Fitted(s, (text,))
    for s in _sizes(size, min_size):
        lines = wrap(text, s, box_w)
        if len(lines) * s * LEADING <= box_h:
            return Fitted(s, tuple(lines))
    lines = wrap(text, min_size, box_w)
    room = max(1, int(box_h // (min_size * LEADING)))
    kept = lines[:room]
    kept[-1] = ellipsize(kept[-1], min_size, box_w)
    return Fitted(min_size, tuple(kept), truncated=True)


def split_pages(count: int, per_page: int, last_page: int | None = None) -> list[range]:
    """Item ranges for each page: `per_page` on full pages, at most `last_page` on the final one
    (it also holds the totals), and at least one item there so totals never stand alone."""
    last_page = per_page if last_page is None else last_page
    pages, start = [], 0
    while count - start > last_page:
        take = min(per_page, count - start - 1)
        pages.append(range(start, start + take))
        start += take
    pages.append(range(start, count))
    return pages


def money(amount: Decimal) -> str:
    """Two decimals, half-up; a refund's amounts keep their minus sign (-8.40), as the 退费单 shows
    them. Amounts are already rounded to the cent where they were computed; this only formats."""
    return fmt(amount) if amount else "0.00"           # never "-0.00"


def price(amount: Decimal) -> str:
    """Unit prices keep every digit the price list gives (0.0658), but never fewer than two."""
    text = f"{amount.normalize():f}"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def ymd(day, blank: str = "      年    月    日") -> str:
    return f"{day.year} 年 {day.month} 月 {day.day} 日" if day else blank


def new_canvas(buffer, title: str) -> Canvas:
    """An A4 canvas whose every font is embedded: the page preamble names the CJK face instead of
    reportlab's default Helvetica (which would be referenced but not embedded). `invariant` makes
    the bytes depend on the content only, not on the time of printing."""
    register_fonts()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1, invariant=1, initialFontName=CJK, lang="zh-CN")
    canvas.setTitle(title)
    canvas.setCreator("liangbing")
    return canvas


class Sheet:
    """A reportlab canvas addressed in mm from the top-left corner of an A4 portrait page."""

    def __init__(self, canvas: Canvas, page_size: tuple[float, float] = A4, line_width: float = 0.7):
        register_fonts()
        self.c = canvas
        self.page_h = page_size[1]
        self.c.setLineWidth(line_width)

    def _y(self, top_mm: float) -> float:
        return self.page_h - top_mm * mm

    def text(self, x: float, baseline: float, text: str, size: float, align: str = "left",
             bold: bool = False) -> None:
        """One line at a baseline (mm); align left/centre/right on x. The CJK face has no bold
        weight, so bold strokes the outlines as well as filling them."""
        w = width(text, size) / mm
        left = x - w if align == "right" else x - w / 2 if align == "center" else x
        t = self.c.beginText(left * mm, self._y(baseline))
        if bold:
            self.c.saveState()
            self.c.setLineWidth(size * 0.035)
            t.setTextRenderMode(2)
        for font, run in font_runs(text):
            t.setFont(font, size)
            t.textOut(run)
        self.c.drawText(t)
        if bold:
            self.c.restoreState()

    def fit(self, text: str, x: float, top: float, w: float, h: float, size: float = 11, min_size: float = 6,
            *, align: str = "left", valign: str = "middle", pad: float = 1.5, wrap_first: bool = False,
            bold: bool = False) -> Fitted:
        """Fit and draw text inside the box (mm) less `pad` on each side; returns what was drawn."""
        inner_w, inner_h = (w - 2 * pad) * mm, (h - 2 * pad) * mm
        fitted = fit_text(text, inner_w, inner_h, size, min_size, wrap_first=wrap_first)
        line_h = fitted.size * LEADING / mm
        block = len(fitted.lines) * line_h
        first = top + pad + {"top": 0, "bottom": h - 2 * pad - block}.get(valign, (h - 2 * pad - block) / 2)
        anchor = {"left": x + pad, "center": x + w / 2, "right": x + w - pad}[align]
        for i, line in enumerate(fitted.lines):
            baseline = first + (i + 0.5) * line_h + BASELINE_BELOW_MIDDLE * fitted.size / mm
            self.text(anchor, baseline, line, fitted.size, align, bold)
        return fitted

    def cell(self, x: float, top: float, w: float, h: float, text: str = "", size: float = 11,
             min_size: float = 6, **fit_options) -> Fitted | None:
        """A bordered grid cell with its text fitted inside."""
        self.box(x, top, w, h)
        return self.fit(text, x, top, w, h, size, min_size, **fit_options) if text else None

    def box(self, x: float, top: float, w: float, h: float, dash: tuple[float, ...] | None = None) -> None:
        if dash:
            self.c.setDash(*dash)
        self.c.rect(x * mm, self._y(top + h), w * mm, h * mm)
        if dash:
            self.c.setDash()

    def hline(self, x1: float, x2: float, top: float, line_width: float | None = None) -> None:
        if line_width is not None:
            self.c.saveState()
            self.c.setLineWidth(line_width)
        self.c.line(x1 * mm, self._y(top), x2 * mm, self._y(top))
        if line_width is not None:
            self.c.restoreState()

    def field(self, x: float, baseline: float, label: str, value: str, w: float, size: float = 11,
              room: float | None = None) -> float:
        """`label` then `value` on an underline `w` mm long, as on a paper prescription; returns the
        x where the underline ends. The value sits on the label's baseline; given `room` (mm above
        the underline) a long value may wrap upwards into it instead of shrinking to a tiny size."""
        self.text(x, baseline, label, size)
        start = x + width(label, size) / mm + 1
        self.hline(start, start + w, baseline + 1.2, line_width=0.5)
        if value:
            height = room * mm if room else size * LEADING
            fitted = fit_text(value, (w - 2) * mm, height, size, 6)
            step = fitted.size * LEADING / mm
            last = len(fitted.lines) - 1
            for i, line in enumerate(fitted.lines):
                self.text(start + 1, baseline - (last - i) * step, line, fitted.size)
        return start + w

    def grey(self, level: float = 0.45) -> None:
        self.c.setFillGray(level)

    def black(self) -> None:
        self.c.setFillGray(0)


__all__ = ["CJK", "LEADING", "Fitted", "Sheet", "ellipsize", "fit_text", "money", "new_canvas", "price", "split_pages",
           "width", "width_mm", "wrap", "ymd"]
