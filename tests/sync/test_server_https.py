"""Serving the township server over HTTPS (issue 13 item 2, docs/server-https.md): `liangbing-server serve
--certfile/--keyfile` really speaks TLS on 127.0.0.1 with a certificate made here, the session cookie
is Secure over HTTPS (directly or through a proxy the server was told to trust) and never otherwise,
and `--https-only` refuses plain HTTP for the pages while the sync API stays reachable."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select

from clinic.db.models.township import ServerSignin
from sync.server import auth
from sync.server.signin import COOKIE
from sync.server.storage import open_server_database
from tests.sync.helpers import ROOT, free_socket, server_process

STAFF = ("staff", "staff-pass-1")
FORM = {"username": STAFF[0], "password": STAFF[1]}


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files (the test trusts the certificate itself)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def db_url(server_db_url):
    db = open_server_database(server_db_url)
    with db.session("test", write=True) as s:
        auth.add_account(s, STAFF[0], "乡镇员工", "township", STAFF[1])
    db.close()
    return server_db_url


@pytest.fixture
def stop():
    started: list[subprocess.Popen] = []
    yield started.append
    for proc in started:
        proc.terminate()
        proc.wait(timeout=30)


def https_server(db_url: str, cert: Path, key: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen([sys.executable, "-m", "sync.server.cli", "serve", "--db", db_url, "--port", str(port),
                             "--certfile", str(cert), "--keyfile", str(key), "--no-daily-backup", *extra], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            requests.get(f"{url}/api/v1/health", timeout=2, verify=cert)
            return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("HTTPS server did not start")


def cookie_flags(response: requests.Response) -> set[str]:
    header = response.headers["set-cookie"]
    assert header.startswith(f"{COOKIE}="), header
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]} | {
        part.strip().lower() for part in header.split(";") if part.strip().lower().startswith("samesite")}


def test_serve_with_a_certificate_speaks_https_on_127_0_0_1_and_the_cookie_is_secure(db_url, tmp_path, stop):
    cert, key = self_signed(tmp_path)
    proc, url = https_server(db_url, cert, key)
    stop(proc)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{url}/login", timeout=10)            # not trusted without the certificate: real TLS
    web = requests.Session()
    web.verify, web.trust_env = str(cert), False      # else REQUESTS_CA_BUNDLE overrides the session's verify
    answer = web.post(f"{url}/login", data=FORM, allow_redirects=False, timeout=30)
    assert answer.status_code == 303
    assert {"secure", "httponly", "samesite=strict"} <= cookie_flags(answer)
    page = web.get(f"{url}/township", timeout=30)
    assert page.status_code == 200 and "退出" in page.text and page.headers["X-Frame-Options"] == "DENY"
    web.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(url.replace("https://", "http://") + "/login", timeout=10)   # no plain HTTP on the TLS port


def test_the_cookie_is_not_secure_over_plain_http_but_still_httponly_and_strict(db_url, stop):
    proc, url = server_process(db_url, None, "--no-daily-backup")
    stop(proc)
    answer = requests.post(f"{url}/login", data=FORM, allow_redirects=False, timeout=30,
                           headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.9"})
    flags = cookie_flags(answer)
    assert "secure" not in flags, "a proxy header from a proxy nobody said to trust is ignored"
    assert {"httponly", "samesite=strict"} <= flags


def test_behind_a_trusted_proxy_the_cookie_is_secure_and_the_log_has_the_real_address(db_url, stop):
    proc, url = server_process(db_url, None, "--no-daily-backup", "--trust-proxy", "127.0.0.1")
    stop(proc)
    answer = requests.post(f"{url}/login", data=FORM, allow_redirects=False, timeout=30,
                           headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.9"})
    assert "secure" in cookie_flags(answer)
    db = open_server_database(db_url)
    try:
        with db.session() as s:
            assert s.scalars(select(ServerSignin.address)).all() == ["10.0.0.9"]
    finally:
        db.close()


def test_https_only_refuses_plain_http_for_pages_but_not_for_the_sync_api(db_url, stop):
    proc, url = server_process(db_url, None, "--no-daily-backup", "--trust-proxy", "127.0.0.1", "--https-only")
    stop(proc)
    for path in ("/login", "/township/dashboard", "/review"):
        refused = requests.get(f"{url}{path}", timeout=30, allow_redirects=False)
        assert refused.status_code == 403 and "只接受 HTTPS" in refused.text, path
        assert "script-src 'none'" in refused.headers["Content-Security-Policy"]
    login = requests.post(f"{url}/login", data=FORM, allow_redirects=False, timeout=30)
    assert login.status_code == 403 and "set-cookie" not in login.headers, "no password is checked over HTTP"
    assert requests.get(f"{url}/api/v1/health", timeout=30).status_code == 200
    via_proxy = requests.get(f"{url}/login", headers={"X-Forwarded-Proto": "https"}, timeout=30)
    assert via_proxy.status_code == 200 and "用户名" in via_proxy.text


def test_https_only_over_a_certificate_serves_the_pages(db_url, tmp_path, stop):
    cert, key = self_signed(tmp_path)
    proc, url = https_server(db_url, cert, key, "--https-only")
    stop(proc)
    assert requests.get(f"{url}/login", timeout=30, verify=cert).status_code == 200


@pytest.mark.parametrize("options, message", [
    (["--https-only"], "--https-only 需要 --certfile/--keyfile"),
    (["--certfile", "missing.crt"], "--certfile 和 --keyfile 须同时给出"),
    (["--certfile", "missing.crt", "--keyfile", "missing.key"], "找不到文件 missing.crt"),
])
def test_serve_refuses_https_options_it_cannot_honour_in_one_line(tmp_path, options, message):
    done = subprocess.run([sys.executable, "-m", "sync.server.cli", "serve", "--db", str(tmp_path / "t.db"),
                           "--no-daily-backup", *options], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_serve_refuses_a_key_that_does_not_match_the_certificate(tmp_path):
    cert, _ = self_signed(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, wrong_key = self_signed(other)
    done = subprocess.run([sys.executable, "-m", "sync.server.cli", "serve", "--db", str(tmp_path / "t.db"),
                           "--no-daily-backup", "--certfile", str(cert), "--keyfile", str(wrong_key)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1 and "无法使用" in done.stderr and "Traceback" not in done.stderr
