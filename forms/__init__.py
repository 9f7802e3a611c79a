"""reportlab renderers: domain data → PDF bytes (附件2, 附件3, receipts, monthly reports)."""
