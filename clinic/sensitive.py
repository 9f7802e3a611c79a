"""Personal information in exports (issue 7, PIPL): patient ID numbers are found, counted and, when
asked, masked before anything leaves the clinic. Any export that may carry them warns first: the GUI
asks, the command line needs --yes (or --mask-ids)."""

from __future__ import annotations

import re

from clinic.idcard import check_digit

_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])([0-9]{17}[0-9Xx])(?![0-9A-Za-z])")


def _valid(number: str) -> bool:
    return check_digit(number[:17]) == number[17].upper()


def find_id_numbers(text: str) -> set[str]:
    """Every well-formed 18-character ID number (checksum included) in the text."""
    return {m.group(1).upper() for m in _CANDIDATE.finditer(text or "") if _valid(m.group(1))}


def mask_id_numbers(text: str) -> str:
    """420704196001010011 → 420704********0011: the region and the tail a doctor searches by remain."""
    return _CANDIDATE.sub(lambda m: m.group(1)[:6] + "*" * 8 + m.group(1)[-4:] if _valid(m.group(1))
                          else m.group(1), text or "")


def id_number_warning(count: int) -> str:
    """The words the GUI asks with (and the command line prints) before writing such a file."""
    return f"导出内容含 {count} 个身份证号（个人敏感信息），请妥善保管导出文件，勿通过微信、QQ 等转发"
