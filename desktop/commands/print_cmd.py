"""`liangbing print filing|prescription|receipt --db PATH --patient ID_NUMBER -o OUT.pdf`: the
patient's latest filing (附件2 审定表), prescription (附件3 连续处方, both copies) or settlement
(结算单, or 退费单 for a refund) as a PDF; `print receipt --receipt NO` prints one given receipt."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from sqlalchemy import select

from clinic.db.engine import open_database
from clinic.db.models import Filing, Prescription, Settlement

# form → (record, newest-first order, what the form is called, what the patient lacks)
FORMS = {
    "filing": (Filing, (Filing.filed_on.desc(), Filing.created_at.desc()), "附件2 审定表", "“两病”备案记录"),
    "prescription": (Prescription, (Prescription.prescribed_on.desc(), Prescription.created_at.desc()),
                     "附件3 连续处方", "慢性病连续处方"),
    "receipt": (Settlement, (Settlement.settled_on.desc(), Settlement.created_at.desc(),
                             Settlement.receipt_no.desc()), "结算单", "结算记录"),
}
WRITE_ERRORS = {errno.ENOENT: "文件夹不存在", errno.EACCES: "没有写入权限", errno.EPERM: "没有写入权限",
                errno.EISDIR: "这是一个文件夹", errno.ENOSPC: "磁盘空间不足", errno.EROFS: "磁盘只读"}


def register(sub) -> None:
    p = sub.add_parser("print", help="打印患者最近的附件2 审定表、附件3 连续处方或结算单（PDF）")
    p.add_argument("form", choices=tuple(FORMS), help="filing 审定表 | prescription 连续处方 | receipt 结算单")
    p.add_argument("--db", required=True)
    p.add_argument("--patient", metavar="ID_NUMBER", help="患者身份证号（打印该患者最近的一份）")
    p.add_argument("--receipt", metavar="NO", help="结算单号或退费单号（只用于 receipt，打印指定的一张）")
    p.add_argument("-o", "--output", required=True, metavar="OUT.pdf")
    p.set_defaults(handler=run)


def _find_patient(session, id_number: str):
    from clinic.patients import find_by_id_number

    patient = find_by_id_number(session, id_number)
    if patient is None:
        raise ValueError(f"找不到身份证号为 {id_number} 的患者")
    return patient


def _find_record(session, form: str, id_number: str | None, receipt_no: str | None):
    """The record to print and the form's name."""
    model, order, title, lacking = FORMS[form]
    if receipt_no is not None:
        if form != "receipt":
            raise ValueError("--receipt 只能与 receipt 一起使用")
        record = session.scalar(select(Settlement).where(Settlement.receipt_no == receipt_no.strip(),
                                                         Settlement.deleted_at.is_(None)))
        if record is None:
            raise ValueError(f"找不到单号为 {receipt_no} 的结算单")
        if id_number is not None and record.patient_id != _find_patient(session, id_number).id:
            raise ValueError(f"单号 {receipt_no} 不是身份证号 {id_number} 的患者的结算单")
        return record, title
    if id_number is None:
        raise ValueError("请用 --patient 指定患者身份证号" + ("，或用 --receipt 指定单号" if form == "receipt" else ""))
    patient = _find_patient(session, id_number)
    record = session.scalars(select(model).where(model.patient_id == patient.id, model.deleted_at.is_(None))
                             .order_by(*order).limit(1)).first()
    if record is None:
        raise ValueError(f"患者 {patient.name} 没有{lacking}，无法打印{title}")
    return record, title


def render(session, form: str, id_number: str | None, receipt_no: str | None = None) -> tuple[bytes, str]:
    """The PDF of the chosen record (the patient's latest unless a receipt number is given), and the
    form's name."""
    from forms.filing_form import filing_form_data, render_filing_form
    from forms.prescription_form import prescription_form_data, render_prescription
    from forms.receipt import receipt_data, render_receipt

    record, title = _find_record(session, form, id_number, receipt_no)
    if form == "filing":
        return render_filing_form(filing_form_data(session, record)), title
    if form == "prescription":
        return render_prescription(prescription_form_data(session, record)), title
    return render_receipt(receipt_data(session, record)), "退费单" if record.reverses_id else title


def render_latest(session, form: str, id_number: str) -> tuple[bytes, str]:
    return render(session, form, id_number)


def write_atomically(out: Path, data: bytes) -> None:
    """Write beside the target and rename over it, so an earlier file is never left half-written."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise ValueError(f"无法写入 {out}：{WRITE_ERRORS.get(exc.errno, exc.strerror or exc)}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ValueError(f"无法写入 {out}：{WRITE_ERRORS.get(exc.errno, exc.strerror or exc)}") from None


def run(args) -> int:
    db = open_database(args.db, create=False)
    try:
        with db.session() as s:
            pdf, title = render(s, args.form, args.patient, args.receipt)
    finally:
        db.close()
    out = Path(args.output)
    write_atomically(out, pdf)
    print(f"已生成{title}：{out}")
    return 0
