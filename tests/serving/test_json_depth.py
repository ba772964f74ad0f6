"""Our own JSON depth limit on scoring requests: refused with 400 before parsing, the payload never echoed."""

from __future__ import annotations

import orjson
import pytest

from jupyter_mlops.serving.protocol import MAX_JSON_DEPTH, BadScoringRequest, check_json_depth

from .conftest import daemon_url


def nested(depth: int, marker: str = "") -> bytes:
    """``{"inputs": [[...[1]...]]}`` with ``depth`` levels in all (the outer object counts)."""
    return b'{"inputs": ' + b"[" * (depth - 1) + f'"{marker}"'.encode() + b"]" * (depth - 1) + b"}"


def test_the_limit_counts_levels_not_brackets_and_ignores_strings() -> None:
    check_json_depth(nested(MAX_JSON_DEPTH))  # at the limit: fine
    with pytest.raises(BadScoringRequest, match=f"nested more than {MAX_JSON_DEPTH} levels"):
        check_json_depth(nested(MAX_JSON_DEPTH + 1))
    alternating: object = 1
    for _ in range(MAX_JSON_DEPTH // 2):  # objects in lists count as much as lists
        alternating = [{"a": alternating}]
    check_json_depth(orjson.dumps({"inputs": alternating})[len(b'{"inputs":') : -1])  # exactly the limit
    with pytest.raises(BadScoringRequest):
        check_json_depth(orjson.dumps({"inputs": alternating}))
    wide = orjson.dumps({"dataframe_split": {"columns": ["a"], "data": [[1.0]] * 500}})  # 500 rows, 4 levels
    check_json_depth(wide)
    check_json_depth(orjson.dumps({"inputs": ["[" * 100 + '\\"{' * 50]}))  # brackets inside a string
    with pytest.raises(BadScoringRequest):
        # closing brackets inside a string do not hide the depth that follows
        check_json_depth(b'{"inputs": ["]]]]]]]]]]", ' + b"[" * 40 + b"1" + b"]" * 40 + b"]}")


def test_a_too_deep_request_gets_400_without_the_payload(deploy, registered_model, local_target, http) -> None:
    deploy("deep")
    url = f"{daemon_url(local_target)}/deployments/deep/invocations"
    headers = {"Content-Type": "application/json"}
    refused = http.post(url, content=nested(MAX_JSON_DEPTH + 1, "SECRET-PAYLOAD"), headers=headers)
    assert refused.status_code == 400
    assert refused.json()["error_code"] == "BAD_REQUEST"
    assert f"nested more than {MAX_JSON_DEPTH} levels" in refused.json()["message"]
    assert b"SECRET-PAYLOAD" not in refused.content
    # orjson would parse 1,000 levels; we refuse long before, as fast as any other 400
    assert http.post(url, content=nested(1000), headers=headers).status_code == 400
    # at the limit the request passes the depth check and fails on what it is (not a valid iris input)
    shallow = http.post(url, content=nested(MAX_JSON_DEPTH), headers=headers)
    assert shallow.status_code == 400
    assert "nested" not in shallow.json()["message"]
    # the Open Inference Protocol route applies the same limit, JSON-only or with binary tensors after the header
    v2 = f"{daemon_url(local_target)}/v2/models/deep/infer"
    deep = nested(MAX_JSON_DEPTH + 1, "SECRET-PAYLOAD")
    for extra, body in (({}, deep), ({"Inference-Header-Content-Length": str(len(deep))}, deep + b"\0" * 16)):
        refused = http.post(v2, content=body, headers={**headers, **extra})
        assert refused.status_code == 400, refused.text
        assert "nested more than" in refused.text and b"SECRET-PAYLOAD" not in refused.content
