"""The console over HTTPS (``[console] certfile`` and ``keyfile``): the pages, a Secure session
cookie and HSTS; plain HTTP is not answered on the HTTPS port."""

from __future__ import annotations

import http.client
import os
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from antre.sim import procs
from antre.sim.procs import ConsoleProc
from antre.sim.sitefiles import SiteFiles
from tests.harness import free_port


def _certificate(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        if os.environ.get("ANTRE_REQUIRE_ALL"):
            pytest.fail("openssl is required (ANTRE_REQUIRE_ALL is set)")
        pytest.skip("openssl is not installed")
    cert, key = directory / "console.crt", directory / "console.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_the_console_serves_https_with_secure_cookies(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    site = SiteFiles(tmp_path / "site", free_port(), console={"certfile": str(cert), "keyfile": str(key)})
    with procs.running_site("embedded", site.dir, site=site, report=print):
        console = ConsoleProc(site, free_port())
        console.start()
        try:
            console.wait_ready()
            assert "antre console ready: https://" in console.output()
            context = ssl.create_default_context(cafile=str(cert))
            conn = http.client.HTTPSConnection("127.0.0.1", console.http_port, context=context, timeout=10)
            conn.request("GET", "/login")
            answer = conn.getresponse()
            page = answer.read().decode()
            assert answer.status == 200 and "Masuk ke konsol" in page
            assert "max-age" in (answer.getheader("strict-transport-security") or "")
            assert "secure" in (answer.getheader("set-cookie") or "").lower()
            conn.close()
            plain = http.client.HTTPConnection("127.0.0.1", console.http_port, timeout=10)
            with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
                plain.request("GET", "/login")
                reply = plain.getresponse()
                if reply.status < 400:  # uvicorn answers nothing sensible to plain HTTP on a TLS port
                    reply.read()
                    raise AssertionError("plain HTTP was served on the HTTPS port")
                raise ConnectionError(f"refused with {reply.status}")
        finally:
            console.stop()
            assert "Traceback" not in console.output(), console.output()
