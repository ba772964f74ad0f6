"""Every route refuses unauthenticated and cross-origin requests (the runtime twin of scripts/check_auth.py)."""

from __future__ import annotations

import re

import pytest

from jupyter_mlops.server.routes import route_table

VERBS = ("get", "post", "put", "patch", "delete")


def _concrete(pattern: str) -> list[str]:
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: {"version": "1"}.get(m[1], "x"), pattern)
    return [p for p in path.strip("/").split("/") if p]


def _routes() -> list[tuple[str, list[str]]]:
    cases = []
    for pattern, handler in route_table():
        for verb in VERBS:
            if verb in vars(handler):
                cases.append((verb.upper(), _concrete(pattern)))
    return cases


@pytest.mark.parametrize(("method", "parts"), _routes())
async def test_unauthenticated_requests_are_refused(jp_fetch, method, parts) -> None:
    response = await jp_fetch(
        *parts,
        method=method,
        body="{}" if method in ("POST", "PUT", "PATCH") else None,
        headers={"Authorization": ""},
        raise_error=False,
        allow_nonstandard_methods=True,
    )
    assert response.code in (401, 403), f"{method} /{'/'.join(parts)} answered {response.code}"


def test_every_verb_is_covered() -> None:
    assert len(_routes()) >= 11


async def _cookie_login(jp_fetch, jp_serverapp) -> str:
    response = await jp_fetch(
        "login",
        params={"token": jp_serverapp.identity_provider.token},
        headers={"Authorization": ""},
        follow_redirects=False,
        raise_error=False,
    )
    cookies = [c.split(";")[0] for c in response.headers.get_list("Set-Cookie")]
    assert cookies, "logging in with the token set no cookie"
    return "; ".join(cookies)


async def test_browser_session_needs_xsrf_and_same_origin(jp_fetch, jp_serverapp, iris_version) -> None:
    """A logged-in browser (cookie auth) must send the XSRF token, and other origins are refused."""
    cookie = await _cookie_login(jp_fetch, jp_serverapp)
    headers = {"Authorization": "", "Cookie": cookie, "Content-Type": "application/json"}
    ok = await jp_fetch("mlops", "api", "deployments", headers=dict(headers), raise_error=False)
    assert ok.code == 200, "cookie login did not authenticate"
    body = '{"model": "iris", "name": "csrf-victim"}'
    no_xsrf = await jp_fetch(
        "mlops", "api", "deployments", method="POST", body=body, headers=dict(headers), raise_error=False
    )
    assert no_xsrf.code == 403
    xsrf = next((c.split("=", 1)[1] for c in cookie.split("; ") if c.startswith("_xsrf=")), None)
    if xsrf is None:  # the login page did not set one: fetch a page that does
        page = await jp_fetch("lab", headers=dict(headers), raise_error=False)
        xsrf_cookies = [c.split(";")[0] for c in page.headers.get_list("Set-Cookie") if c.startswith("_xsrf=")]
        cookie = "; ".join([cookie, *xsrf_cookies])
        xsrf = xsrf_cookies[0].split("=", 1)[1]
    cross = await jp_fetch(
        "mlops",
        "api",
        "deployments",
        method="POST",
        body=body,
        raise_error=False,
        headers={**headers, "Cookie": cookie, "X-XSRFToken": xsrf, "Origin": "http://evil.example"},
    )
    assert cross.code in (403, 404)
    check = await jp_fetch("mlops", "api", "deployments", "csrf-victim", headers=dict(headers), raise_error=False)
    assert check.code == 404, "a refused request must not create anything"
