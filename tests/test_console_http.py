"""The console's HTTP boundary against hostile input: garbage forms, invalid UTF-8, huge bodies,
wrong encodings, odd paths and headers, for every form of every page, signed in or not.
Whatever arrives, the answer is a clear refusal (4xx) or a page, never a 500 and never a crash;
and nothing of it reaches the central as an action.  Runs ``antre console run`` as a process
on the embedded broker with the real central."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antre.sim.procs import ConsoleProc
from tests.harness import free_port, running_site

PASSWORD = "supervisor-rina"
POST_PATHS = ["/login", "/logout", "/counter/g1", "/counter/g4", "/day", "/counter/nope", "/site", "/sse/site"]


@dataclass
class Client:
    port: int
    cookie: str = ""
    csrf: str = ""

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                cookie: bool = True) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            h = dict(headers or {})
            if cookie and self.cookie:
                h["Cookie"] = self.cookie
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in h.items():
                conn.putheader(k, v)
            if "Content-Length" not in h and method == "POST":
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            response = conn.getresponse()
            if path.startswith("/sse/") and response.status == 200:
                text = ""  # an event stream never ends: its status is what counts here
            else:
                text = response.read().decode("utf-8", "replace")
            for name, value in response.getheaders():
                if name.lower() == "set-cookie" and cookie:
                    self.cookie = value.split(";", 1)[0]
            return response.status, text
        finally:
            conn.close()

    def sign_in(self, name: str, password: str) -> None:
        status, page = self.request("GET", "/login")
        assert status == 200
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        body = f"csrf={self.csrf}&name={name}&password={password}&next=".encode()
        status, _ = self.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 303
        status, page = self.request("GET", "/counter/g1")
        assert status == 200
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ConsoleProc, Client]]:
    directory = tmp_path_factory.mktemp("console-http")
    with running_site("embedded", directory) as run:
        subprocess.run([sys.executable, "-m", "antre", "console", "user", "add", "rina", "--role", "supervisor",
                        "--password-stdin", "--config", str(run.site.config_path)], input=PASSWORD + "\n",
                       text=True, check=True, capture_output=True)
        proc = ConsoleProc(run.site, free_port())
        proc.start()
        try:
            proc.wait_ready()
            client = Client(proc.http_port)
            client.sign_in("rina", PASSWORD)
            yield proc, client
        finally:
            proc.stop()
            log = proc.output()
            print("--- console log\n" + log[-20000:])
            assert "Traceback" not in log, "the console logged a traceback"


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _check(proc: ConsoleProc, status: int, text: str, what: object) -> None:
    assert status < 500, (what, status, text[:300])
    assert proc.alive()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(POST_PATHS), body=st.binary(max_size=3000),
       ctype=st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                              "text/plain", "application/json", "", "application/x-www-form-urlencoded; charset=latin-1"]),
       with_token=st.booleans())
def test_garbage_bodies_never_500(console: tuple[ConsoleProc, Client], path: str, body: bytes, ctype: str,
                                  with_token: bool) -> None:
    proc, client = console
    if with_token:
        body = f"csrf={client.csrf}&nonce=0123456789abcdef&".encode() + body
    headers = {"Content-Type": ctype} if ctype else {}
    # sign-in and sign-out are posted without the session (no sign-out, no flood of failed sign-ins)
    status, text = client.request("POST", path, body, headers, cookie=path not in ("/login", "/logout"))
    _check(proc, status, text, (path, body[:80], ctype))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(fields=st.dictionaries(st.sampled_from(["action", "service", "ticket", "reason", "note", "quota", "text",
                                               "nonce", "name", "password", "next", "x"]),
                              st.text(max_size=300), max_size=8),
       path=st.sampled_from(["/counter/g1", "/day", "/login"]))
def test_any_field_values_are_answered_without_500(console: tuple[ConsoleProc, Client], fields: dict[str, str],
                                                   path: str) -> None:
    import urllib.parse

    proc, client = console
    fields = {"csrf": client.csrf, **fields}
    if path == "/login":
        fields["name"] = fields.get("name", "x")[:40]  # no sign-in flood of the real account
    body = urllib.parse.urlencode(fields).encode("utf-8", "surrogatepass")
    status, text = client.request("POST", path, body, FORM, cookie=path != "/login")
    _check(proc, status, text, fields)


@pytest.mark.parametrize(("body", "status", "text"), [
    (b"csrf=%ff%fe&action=call_next", 400, "bukan UTF-8"),
    (b"\xff\xfe\x00garbage", 400, "bukan UTF-8"),
    (b"action=" + b"A" * 20000, 413, "terlalu besar"),
    (b"&".join(b"f%d=1" % i for i in range(100)), 400, "terlalu banyak isian"),
    (b"action=call_next", 403, "CSRF"),
])
def test_bad_bodies_get_a_clear_message(console: tuple[ConsoleProc, Client], body: bytes, status: int,
                                        text: str) -> None:
    proc, client = console
    got, page = client.request("POST", "/counter/g1", body, FORM)
    assert (got, text in page) == (status, True), page[:400]


def test_huge_and_lying_bodies(console: tuple[ConsoleProc, Client]) -> None:
    proc, client = console
    status, page = client.request("POST", "/day", b"x" * (2 * 1024 * 1024), FORM)
    assert status == 413 and "terlalu besar" in page
    status, page = client.request("POST", "/day", b"", {**FORM, "Content-Length": "99999999999"})
    assert status in (400, 413)
    status, page = client.request("POST", "/day", b"a=1", {"Content-Type": "multipart/form-data; boundary=zz"})
    assert status == 415 and "x-www-form-urlencoded" in page
    assert proc.alive()


@pytest.mark.parametrize("path", ["/counter/%00", "/counter/" + "g" * 5000, "/counter/..%2f..%2fetc",
                                  "/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/site.toml", "/sse/counter/g9",
                                  "/login?next=//evil.example/", "/%ff%fe", "/day?x=" + "%ff" * 100])
def test_odd_paths(console: tuple[ConsoleProc, Client], path: str) -> None:
    proc, client = console
    status, page = client.request("GET", path)
    assert status < 500 and "root:" not in page and "[site]" not in page
    assert "evil.example" not in page.split("<form", 1)[-1].split("</form>", 1)[0] or 'value=""' in page


def test_a_forged_cross_site_post_is_refused(console: tuple[ConsoleProc, Client]) -> None:
    proc, client = console
    body = f"csrf={client.csrf}&nonce=0123456789abcdef&action=call_next".encode()
    status, page = client.request("POST", "/counter/g1", body, {**FORM, "Origin": "http://evil.example"})
    assert status == 403 and "Origin" in page


def test_security_headers(console: tuple[ConsoleProc, Client]) -> None:
    proc, client = console
    conn = http.client.HTTPConnection("127.0.0.1", proc.http_port, timeout=10)
    conn.request("GET", "/login")
    response = conn.getresponse()
    response.read()
    csp = response.getheader("content-security-policy") or ""
    assert "script-src 'self'" in csp and "unsafe" not in csp and "frame-ancestors 'none'" in csp
    assert response.getheader("x-frame-options") == "DENY"
    cookie = response.getheader("set-cookie") or ""
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    conn.close()


def test_a_forms_command_id_is_the_same_for_a_resend_and_its_own_per_action() -> None:
    """A double click sends the same id (applied once); another action from the same drawn page (same
    nonce, before htmx redrew it) gets its own, so it is never answered with the first one's reply."""
    from antre.broker.wire import messages as m
    from antre.console.web import COUNTER_ACTIONS, DAY_ACTIONS, command_id

    import msgspec

    longest = "u" * 32
    ids = {command_id(longest, "0123456789abcdef", a) for a in COUNTER_ACTIONS + DAY_ACTIONS}
    assert len(ids) == len(COUNTER_ACTIONS + DAY_ACTIONS)
    assert command_id("siti", "0123456789abcdef", "reprint") == command_id("siti", "0123456789abcdef", "reprint")
    for cid in ids:  # every one a valid command id on the wire, even for the longest account name
        msgspec.json.decode(msgspec.json.encode(m.Done(id=cid)), type=m.Done)
