"""Issue #19, one row per finding: what a local process or a web page could do to a running daemon, refused.

Each row is a real HTTP request to a real daemon (tests/serving's fixtures) serving three deployments with
``max_rows = 20``: ``sec-open`` (no token), ``sec-locked`` and ``sec-iso`` (an isolated worker), both requiring a
token. The next finding is one more row. Non-HTTP findings (alert-rule validation, SSRF) are tables below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pytest

from jupyter_mlops.core.errors import InvalidRequest
from jupyter_mlops.core.monitoring.alerts import validate_rule
from jupyter_mlops.core.monitoring.webhooks import check_url
from jupyter_mlops.core.validation import version as valid_version

from .conftest import MAX_ROWS, Protected

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TOKEN, ADMIN, WRONG = "<token>", "<admin>", "<wrong>"


def v2_json(rows: int) -> bytes:
    data = np.ones((rows, 4)).reshape(-1).tolist()
    return orjson.dumps({"inputs": [{"name": "input-0", "shape": [rows, 4], "datatype": "FP64", "data": data}]})


def v2_binary(rows: int) -> tuple[bytes, dict[str, str]]:
    raw = np.ones((rows, 4), dtype=np.float64).tobytes()
    head = orjson.dumps({"inputs": [{"name": "input-0", "shape": [rows, 4], "datatype": "FP64",
                                     "parameters": {"binary_data_size": len(raw)}}]})  # fmt: skip
    return head + raw, {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"}


def split(rows: int) -> bytes:
    return orjson.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2]] * rows}})


def csv(rows: int) -> bytes:
    return (",".join(COLUMNS) + "\n" + "5.1,3.5,1.4,0.2\n" * rows).encode()


JSON_CT = {"Content-Type": "application/json"}
BINARY_BIG, BINARY_HEADERS = v2_binary(MAX_ROWS + 1)


@dataclass(frozen=True)
class Row:
    """One finding: a request and the status it must get (``auth``: TOKEN, ADMIN, WRONG or None)."""

    finding: str
    method: str
    path: str
    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: str | None = None


ROWS = [
    # 1. one row limit for every protocol, before decoding
    Row("1 V2 JSON rows over max_rows", "POST", "/v2/models/sec-open/infer", 400, v2_json(MAX_ROWS + 1), JSON_CT),
    Row("1 V2 binary rows over max_rows", "POST", "/v2/models/sec-open/infer", 400, BINARY_BIG, BINARY_HEADERS),
    Row("1 V2 within max_rows", "POST", "/v2/models/sec-open/infer", 200, v2_json(MAX_ROWS), JSON_CT),
    Row(
        "1 V2 declared 12M rows, tiny body",
        "POST",
        "/v2/models/sec-open/infer",
        400,
        v2_json(1).replace(b"[1,4]", b"[12000000,4]"),
        JSON_CT,
    ),
    Row(
        "1 invocations JSON over max_rows",
        "POST",
        "/deployments/sec-open/invocations",
        400,
        split(MAX_ROWS + 1),
        JSON_CT,
    ),
    Row(
        "1 invocations CSV over max_rows",
        "POST",
        "/deployments/sec-open/invocations",
        400,
        csv(MAX_ROWS + 1),
        {"Content-Type": "text/csv"},
    ),
    # 2. browser-reachable data plane: CORS simple content types, DNS rebinding
    Row("2 V2 text/plain", "POST", "/v2/models/sec-open/infer", 415, v2_json(1), {"Content-Type": "text/plain"}),
    Row(
        "2 V2 form",
        "POST",
        "/v2/models/sec-open/infer",
        415,
        b"a=1",
        {"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Row(
        "2 V2 multipart",
        "POST",
        "/v2/models/sec-open/infer",
        415,
        b"--x--",
        {"Content-Type": "multipart/form-data; boundary=x"},
    ),
    Row(
        "2 V2 untyped body from a page",
        "POST",
        "/v2/models/sec-open/infer",
        415,
        v2_json(1),
        {"Origin": "https://attacker.example"},
    ),
    Row("2 V2 untyped body from a client", "POST", "/v2/models/sec-open/infer", 200, v2_json(1)),  # tritonclient
    Row("2 foreign Host", "GET", "/ping", 421, headers={"Host": "attacker.example"}),
    Row(
        "2 foreign Host on scoring",
        "POST",
        "/deployments/sec-open/invocations",
        421,
        split(1),
        {**JSON_CT, "Host": "rebind.attacker.example:8080"},
    ),
    Row("2 localhost Host", "GET", "/ping", 200, headers={"Host": "localhost"}),
    # 3. tokens on every per-deployment route, /metrics behind a token, ready for a version that does not exist
    *[
        Row(f"3 {path} without token", "GET", path, 401)
        for path in (
            "/v2/models/sec-locked",
            "/v2/models/sec-locked/ready",
            "/v2/models/sec-locked/versions/1/ready",
            "/deployments/sec-locked/ping",
            "/v2/models/sec-iso",
            "/v2/models/sec-iso/ready",
            "/deployments/sec-iso/ping",
        )
    ],
    Row("3 V2 infer without token", "POST", "/v2/models/sec-iso/infer", 401, v2_json(1), JSON_CT),
    Row("3 metadata with a wrong token", "GET", "/v2/models/sec-locked", 403, auth=WRONG),
    Row("3 metadata with the token", "GET", "/v2/models/sec-locked", 200, auth=TOKEN),
    Row("3 isolated ping with the token", "GET", "/deployments/sec-iso/ping", 200, auth=TOKEN),
    Row("3 /metrics without token", "GET", "/metrics", 401),
    Row("3 /metrics with a deployment token", "GET", "/metrics", 403, auth=TOKEN),
    Row("3 /metrics with the admin token", "GET", "/metrics", 200, auth=ADMIN),
    Row("3 ready for version 99", "GET", "/v2/models/sec-open/versions/99/ready", 404),
    Row("3 ready for version 1", "GET", "/v2/models/sec-open/versions/1/ready", 200),
    # 7. versions beyond 64 bits
    Row("7 ready for a 65-bit version", "GET", f"/v2/models/sec-open/versions/{2**64}/ready", 400),
    Row("7 infer on a 65-bit version", "POST", f"/v2/models/sec-open/versions/{2**64}/infer", 400, v2_json(1), JSON_CT),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.finding for row in ROWS])
def test_finding(row: Row, protected: Protected, http) -> None:
    headers = dict(row.headers)
    if row.auth is not None:
        given = {TOKEN: protected.token, ADMIN: protected.admin, WRONG: "mlops_not-the-token"}[row.auth]
        headers["Authorization"] = f"Bearer {given}"
    response = http.request(row.method, protected.url + row.path, content=row.body, headers=headers)
    assert response.status_code == row.status, response.text[:300]
    if row.status >= 400:
        body = response.json()
        message = body.get("message") or body.get("error")
        assert isinstance(message, str) and message, body  # a message saying what was wrong, never a traceback
        assert "Traceback" not in response.text


# 7. alert rules: finite thresholds and parseable webhook URLs (400, never a 500 or an Infinity stored)
RULE = {"name": "r", "metric": "error_rate", "op": ">", "threshold": 0.1, "window": "1h"}
BAD_RULES = {
    "NaN threshold": {**RULE, "threshold": math.nan},
    "Infinity threshold": {**RULE, "threshold": math.inf},
    "1e999 threshold": {**RULE, "threshold": orjson.loads(b"[1e308]")[0] * 10},
    "huge int threshold": {**RULE, "threshold": 10**400},
    "webhook port out of range": {**RULE, "webhook": "https://example.com:99999/hook"},
    "webhook port 0": {**RULE, "webhook": "https://example.com:0/hook"},
    "webhook broken IPv6": {**RULE, "webhook": "http://[::1/hook"},
    "webhook bracketed non-IPv6": {**RULE, "webhook": "http://[example.com]/hook"},
}


@pytest.mark.parametrize("rule", BAD_RULES.values(), ids=list(BAD_RULES))
def test_bad_alert_rule_is_a_400(rule: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as refused:
        validate_rule(rule, allow_private=True)
    assert refused.value.status == 400 and refused.value.message


# 8. SSRF: IPv6 forms embedding a private IPv4 address are not public
EMBEDDED = {
    "NAT64": "http://[64:ff9b::7f00:1]/",
    "NAT64 local-use": "http://[64:ff9b:1::a00:1]/",
    "6to4": "http://[2002:7f00:1::]/",
    "IPv4-compatible": "http://[::127.0.0.1]/",
    "IPv4-mapped": "http://[::ffff:127.0.0.1]/",
    "IPv4-mapped private": "http://[::ffff:10.0.0.1]/",
    "Teredo to loopback": "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
}


@pytest.mark.parametrize("url", EMBEDDED.values(), ids=list(EMBEDDED))
def test_ipv6_embedding_a_private_ipv4_is_refused(url: str) -> None:
    with pytest.raises(InvalidRequest, match="private"):
        check_url(url, allow_private=False)


def test_ipv6_embedding_a_public_ipv4_is_allowed() -> None:
    assert check_url("http://[64:ff9b::808:808]/hook", allow_private=False)  # NAT64 of 8.8.8.8


VERSIONS = ["18446744073709551616", "9223372036854775808", "0", "-1", "1e3", "²", "٣"]


@pytest.mark.parametrize("given", VERSIONS)
def test_version_out_of_range_is_a_400(given: str) -> None:
    with pytest.raises(InvalidRequest, match="positive integers"):
        valid_version(given)
    assert valid_version("9223372036854775807") == "9223372036854775807"
