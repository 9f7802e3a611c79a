"""`liangbing print filing|prescription|receipt --db PATH --patient ID_NUMBER -o OUT.pdf`: the
patient's latest filing (附件2 审定表), prescription (附件3 连续处方, both copies) or settlement
(结算单, or 退费单 for a refund) as a PDF."""

from __future__ import annotations

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


def register(sub) -> None:
    p = sub.add_parser("print", help="打印患者最近的附件2 审定表、附件3 连续处方或结算单（PDF）")
    p.add_argument("form", choices=tuple(FORMS), help="filing 审定表 | prescription 连续处方 | receipt 结算单")
    p.add_argument("--db", required=True)
    p.add_argument("--patient", required=True, metavar="ID_NUMBER", help="患者身份证号")
    p.add_argument("-o", "--output", required=True, metavar="OUT.pdf")
    p.set_defaults(handler=run)


def render_latest(session, form: str, id_number: str) -> tuple[bytes, str]:
    """The PDF of the patient's latest record for `form`, and the form's name."""
    from clinic.patients import find_by_id_number
    from forms.filing_form import filing_form_data, render_filing_form
    from forms.prescription_form import prescription_form_data, render_prescription
    from forms.receipt import receipt_data, render_receipt

    patient = find_by_id_number(session, id_number)
    if patient is None:
        raise ValueError(f"找不到身份证号为 {id_number} 的患者")
    model, order, title, lacking = FORMS[form]
    record = session.scalars(select(model).where(model.patient_id == patient.id, model.deleted_at.is_(None))
                             .order_by(*order).limit(1)).first()
    if record is None:
        raise ValueError(f"患者 {patient.name} 没有{lacking}，无法打印{title}")
    if form == "filing":
        return render_filing_form(filing_form_data(session, record)), title
    if form == "prescription":
        return render_prescription(prescription_form_data(session, record)), title
    return render_receipt(receipt_data(session, record)), "退费单" if record.reverses_id else title


def run(args) -> int:
    db = open_database(args.db, create=False)
    try:
        with db.session() as s:
            pdf, title = render_latest(s, args.form, args.patient)
    finally:
        db.close()
    out = Path(args.output)
    try:
        out.write_bytes(pdf)
    except OSError as exc:
        raise ValueError(f"无法写入 {out}：{exc.strerror or exc}") from None
    print(f"已生成{title}：{out}")
    return 0
