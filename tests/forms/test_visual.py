"""Layout regressions: the forms drawn by pdftoppm at 50 dpi, compared with reference images a person
has looked at (tests/forms/reference/). A moved rule, cell or paragraph changes many pixels; a poppler
version's anti-aliasing changes a few.

After a deliberate layout change, regenerate the references, LOOK at them, and commit them:
    LIANGBING_UPDATE_FORM_REFERENCES=1 .venv/bin/pytest tests/forms/test_visual.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat
from sqlalchemy import select

from clinic.db.models import Filing, Prescription, Settlement
from forms import filing_form
from forms.filing_form import filing_form_data, render_filing_form
from forms.prescription_form import prescription_form_data, render_prescription
from forms.receipt import receipt_data, render_receipt
from tests.forms.clinic_for_forms import latest
from tests.forms.pdf_tools import render

REFERENCE = Path(__file__).parent / "reference"
UPDATE = os.environ.get("LIANGBING_UPDATE_FORM_REFERENCES") == "1"
DPI = 50
# Mean absolute grey difference (0–255) allowed. Re-rendering the same PDF gives 0; changing one
# character of a name about 0.05 (text is checked by pdftotext, not here); moving the 附件2 grid down
# 0.5 mm about 9, 2 mm about 12 (test_a_moved_table_fails_the_comparison).
TOLERANCE = 1.5


def _forms(session, clinic) -> dict[str, bytes]:
    over_cap = session.scalar(select(Settlement).where(Settlement.receipt_no == clinic.over_cap_receipt_no))
    return {
        "filing": render_filing_form(filing_form_data(session, latest(session, Filing, clinic.regular))),
        "prescription": render_prescription(prescription_form_data(session, latest(session, Prescription,
                                                                                   clinic.regular))),
        "receipt": render_receipt(receipt_data(session, over_cap)),
    }


def difference(image: Image.Image, reference: Image.Image) -> float:
    """Mean absolute difference per pixel, 0–255; a different page size is as different as can be."""
    if image.size != reference.size:
        return 255.0
    return ImageStat.Stat(ImageChops.difference(image, reference)).mean[0]


@pytest.mark.parametrize("name", ["filing", "prescription", "receipt"])
def test_form_page_one_matches_its_reference_image(session, forms_clinic, name):
    image = render(_forms(session, forms_clinic)[name], page=1, dpi=DPI)
    path = REFERENCE / f"{name}.png"
    if UPDATE:
        REFERENCE.mkdir(exist_ok=True)
        image.save(path, optimize=True)
        pytest.skip(f"reference written: {path} — look at it before committing")
    assert path.exists(), f"{path} is missing: run with LIANGBING_UPDATE_FORM_REFERENCES=1"
    diff = difference(image, Image.open(path).convert("L"))
    assert diff <= TOLERANCE, f"{name} page 1 differs from {path.name} by {diff:.2f} (allowed {TOLERANCE})"


def test_a_moved_table_fails_the_comparison(session, forms_clinic, monkeypatch):
    """The comparison is sharp enough to catch a small layout slip: the 附件2 grid 2 mm lower."""
    reference = Image.open(REFERENCE / "filing.png").convert("L")
    monkeypatch.setattr(filing_form, "TABLE_TOP", filing_form.TABLE_TOP + 2)
    moved = render(_forms(session, forms_clinic)["filing"], page=1, dpi=DPI)
    assert difference(moved, reference) > TOLERANCE * 2
