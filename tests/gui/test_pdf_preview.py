"""PDF preview and printing: pages rendered with PDFium, all pages printed in one job."""

from __future__ import annotations

import subprocess
from io import BytesIO

import pytest
from PySide6.QtGui import QPageLayout
from PySide6.QtPrintSupport import QPrinter
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen import canvas

from desktop.gui import pdf_preview
from desktop.gui.pdf_preview import PdfPreviewDialog
from tests.gui.b_helpers import finish_b_tasks, install_app_fonts  # noqa: F401 (an autouse fixture)


@pytest.fixture(autouse=True)
def fonts(qapp):
    install_app_fonts(qapp)


def two_page_pdf() -> bytes:
    """Page 1 portrait with a black box top-left, page 2 landscape with one bottom-right."""
    out = BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    c.setFont("Helvetica", 30)
    c.drawString(72, 700, "COPY ONE")
    c.rect(40, A4[1] - 140, 100, 100, fill=1)
    c.showPage()
    c.setPageSize(landscape(A4))
    c.drawString(72, 400, "COPY TWO")
    c.rect(landscape(A4)[0] - 140, 40, 100, 100, fill=1)
    c.showPage()
    c.save()
    return out.getvalue()


def pdfinfo(path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)


def dark_fraction(png_path, box, below: int = 80) -> float:
    from PySide6.QtGui import QImage
    image = QImage(str(png_path)).convertToFormat(QImage.Format.Format_Grayscale8)
    x0, y0, x1, y1 = (int(v * s) for v, s in zip(box, (image.width(), image.height()) * 2, strict=True))
    dark = sum(1 for y in range(y0, y1, 2) for x in range(x0, x1, 2) if image.pixelColor(x, y).value() < below)
    return dark / (((x1 - x0) // 2) * ((y1 - y0) // 2))


def test_preview_shows_every_page(qtbot, tmp_path):
    path = tmp_path / "two.pdf"
    path.write_bytes(two_page_pdf())
    dialog = PdfPreviewDialog(path, "两页测试")
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.pages_shown, timeout=20000) as shown:
        dialog.show()
    assert shown.args == [2]
    assert len(dialog.page_labels) == 2
    portrait, wide = (label.pixmap() for label in dialog.page_labels)
    assert portrait.height() > portrait.width() and wide.width() > wide.height()
    assert dialog.status.text() == "共 2 页"
    # Zooming in re-renders larger pages.
    before = portrait.width()
    with qtbot.waitSignal(dialog.pages_shown, timeout=20000):
        dialog.step_zoom(1)
    assert dialog.page_labels[0].pixmap().width() > before
    dialog.grab().save(str(tmp_path / "preview.png"))


def test_printing_sends_all_pages_in_one_job(qtbot, tmp_path):
    """附件3's two copies must leave in one print job: a PDF printer receives one file with both pages,
    each on a sheet of its own shape, with the page's content where the PDF put it."""
    dialog = PdfPreviewDialog(two_page_pdf(), "附件3 两联")
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.pages_shown, timeout=20000):
        dialog.show()
    out = tmp_path / "printed.pdf"
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(out))
    with qtbot.waitSignal(dialog.printed, timeout=60000) as printed:
        dialog.print_on(printer)
    assert printed.args == [2]
    info = pdfinfo(out)
    assert info["Pages"].strip() == "2"
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(out), str(tmp_path / "page")], check=True)
    first, second = sorted(tmp_path.glob("page-*.png"))
    # The black boxes land top-left on the portrait sheet and bottom-right on the landscape one.
    assert dark_fraction(first, (0.03, 0.03, 0.2, 0.15)) > 0.5
    assert dark_fraction(first, (0.6, 0.8, 0.95, 0.95)) < 0.05
    assert dark_fraction(second, (0.85, 0.8, 0.97, 0.97)) > 0.5
    from PySide6.QtGui import QImage
    assert QImage(str(first)).height() > QImage(str(first)).width()
    assert QImage(str(second)).width() > QImage(str(second)).height()


def test_print_to_refuses_an_unwritable_printer(qtbot, tmp_path):
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "no" / "such" / "dir" / "out.pdf"))
    try:
        pdf_preview.print_to(printer, two_page_pdf())
    except OSError as exc:
        assert "无法开始打印" in str(exc)
    else:
        raise AssertionError("printing to an unwritable file must fail with a reason")
    assert printer.pageLayout().orientation() == QPageLayout.Orientation.Portrait


def test_save_as_writes_the_same_pdf(qtbot, tmp_path):
    data = two_page_pdf()
    dialog = PdfPreviewDialog(data, "另存")
    qtbot.addWidget(dialog)
    target = tmp_path / "copy"
    dialog.save_to(target)
    qtbot.waitUntil(lambda: (tmp_path / "copy.pdf").exists() and "已保存" in dialog.status.text(), timeout=20000)
    assert (tmp_path / "copy.pdf").read_bytes() == data


def test_both_copies_of_a_real_prescription_print_in_one_job(qtbot, tmp_path, db):
    """附件3 一式二份: the 医疗机构留存 and 患者留存 copies reach the printer as one two-page job."""
    from datetime import date
    from decimal import Decimal

    from clinic.prescriptions import LineInput, create_prescription
    from clinic.profile import policy_in_force
    from forms.prescription_form import prescription_form_data, render_prescription
    from tests.clinic_fixtures import AML, add_drugs, add_patient

    day = date(2026, 3, 2)
    with db.session("doctor") as s:
        add_drugs(s)
        rx = create_prescription(s, add_patient(s, id_number="420704196001010016"), policy_in_force(s, day),
                                 entitled={"hypertension"}, prescriber_name="王医生", prescribed_on=day,
                                 diagnosis="原发性高血压", lines=[LineInput(AML, Decimal(1), "qd", 84)])
        s.flush()
        pdf = render_prescription(prescription_form_data(s, rx))
    source = tmp_path / "rx.pdf"
    source.write_bytes(pdf)
    pages = [subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(source), "-"], capture_output=True,
                            text=True, check=True).stdout for n in (1, 2)]
    assert "医疗机构留存" in pages[0] and "患者留存" in pages[1]
    dialog = PdfPreviewDialog(pdf, "附件3")
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.pages_shown, timeout=20000):
        dialog.show()
    out = tmp_path / "printed.pdf"
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setResolution(150)          # a cheap printer: keeps the test quick, the job is the same
    printer.setOutputFileName(str(out))
    with qtbot.waitSignal(dialog.printed, timeout=60000):
        dialog.print_on(printer)
    assert pdfinfo(out)["Pages"].strip() == "2"
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(out), str(tmp_path / "rx")], check=True)
    for page in sorted(tmp_path.glob("rx-*.png")):
        assert dark_fraction(page, (0.05, 0.05, 0.95, 0.95), below=200) > 0.02     # each sheet carries a form


def test_a_page_range_prints_only_those_pages(qtbot, tmp_path):
    out = tmp_path / "page2.pdf"
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setResolution(100)
    printer.setOutputFileName(str(out))
    printer.setFromTo(2, 2)
    assert pdf_preview.print_to(printer, two_page_pdf()) == 1
    assert pdfinfo(out)["Pages"].strip() == "1"
    assert "842 x 595" in pdfinfo(out)["Page size"]          # the landscape second page
