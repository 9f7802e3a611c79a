"""One fixed clinic for every form test, built once per session (the tests only read it)."""

from __future__ import annotations

import pytest

from clinic.db.engine import open_database
from tests.forms.clinic_for_forms import FormsClinic, build_forms_clinic


@pytest.fixture(scope="session")
def forms_clinic(tmp_path_factory) -> FormsClinic:
    return build_forms_clinic(tmp_path_factory.mktemp("forms") / "clinic.db")


@pytest.fixture
def session(forms_clinic):
    db = open_database(forms_clinic.path, create=False)
    with db.sessions() as s:
        yield s
        s.rollback()                  # tests only read; nothing they touch is kept
    db.close()

