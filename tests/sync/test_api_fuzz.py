"""A property-based fuzz of the sync API from its own OpenAPI description (issue 13, item 3): schemathesis
generates requests for every /api/ operation — bodies from the protocol's models, parameters from their
declared types, and deliberately wrong ones — and sends them to a real server on 127.0.0.1 with a valid
device token, so they reach past authentication. No answer may be a 5xx. Bounded in examples per
operation (Hypothesis `max_examples`) so the run stays short on a small CI machine; no deadline, since a
loaded machine is slow, not wrong."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from sync.protocol import API
from sync.server.app import ServerSettings
from sync.server.storage import open_server_database
from tests.sync.helpers import LiveServer, add_patients, enrolled_clinic

CODE = "H42070400101"
EXAMPLES = 40           # per operation and generation mode


@pytest.fixture(scope="module")
def township(tmp_path_factory):
    """One server for the whole fuzz (its rate limit out of the way), with a clinic whose records are on it."""
    from sync.client import sync_once
    from sync.token_store import load_token

    folder = tmp_path_factory.mktemp("fuzz")
    open_server_database(folder / "township.db").close()
    live = LiveServer.start(str(folder / "township.db"),
                            ServerSettings(requests_per_minute=1_000_000, burst=1_000_000))
    clinic = enrolled_clinic(live, folder / "clinic.db", CODE)
    add_patients(clinic, 3)
    assert sync_once(clinic).all_acknowledged
    token = load_token(clinic)
    clinic.close()
    yield live, token
    live.stop()


@pytest.fixture(scope="module")
def api_schema(township):
    live, _ = township
    return schemathesis.openapi.from_url(f"{live.url}{API}/openapi.json").include(path_regex=f"^{API}/")


# Every /api/ operation, and that none is missed (the pytest plugin's own parametrisation needs the
# schema at collection time, before the server of a fixture runs).
OPERATIONS = [("GET", "/health"), ("POST", "/enrol"), ("POST", "/sync/push"), ("GET", "/sync/pull"),
              ("POST", "/sync/reconcile"), ("GET", "/reports/{kind}")]


def test_every_api_operation_is_fuzzed(api_schema):
    described = {(result.ok().method.upper(), result.ok().path) for result in api_schema.get_all_operations()}
    assert described == {(method, API + path) for method, path in OPERATIONS}


# /health takes no input at all: there is nothing to make wrong in it, so no negative case exists.
CASES = [(method, path, mode) for method, path in OPERATIONS
         for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
         if not (path == "/health" and mode == GenerationMode.NEGATIVE)]


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p}-{mode}" for m, p, mode in CASES])
def test_no_request_to_the_api_is_answered_with_a_server_error(township, api_schema, method, path, mode):
    _, token = township

    @given(case=api_schema[API + path][method].as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def fuzz(case):
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error],
                               timeout=60)

    fuzz()


def test_the_api_description_is_served_but_no_docs_pages(township):
    live, _ = township
    description = requests.get(f"{live.url}{API}/openapi.json", timeout=30).json()
    push = description["paths"][f"{API}/sync/push"]["post"]
    assert "records" in push["requestBody"]["content"]["application/json"]["schema"]["properties"]
    for page in ("/docs", "/redoc", "/openapi.json", f"{API}/docs"):
        assert requests.get(f"{live.url}{page}", timeout=30).status_code == 404
