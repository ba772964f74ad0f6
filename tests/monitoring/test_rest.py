"""The monitoring REST API through a real Jupyter server (pytest-jupyter), the real daemon and real HTTP."""

from __future__ import annotations

import numpy as np

from .conftest import labels_for, make_rows


async def test_monitoring_feedback_alerts_and_health_over_rest(api, monitored) -> None:
    ids = monitored.send(make_rows(np.random.default_rng(6), 300))
    labels, _ = labels_for(monitored, ids, np.random.default_rng(6))

    status, report = await api("GET", "deployments", "shop", "monitoring", params={"window": "1h"})
    assert status == 200
    assert {"deployment", "window", "ops", "drift", "performance", "health", "alerts", "dropped_records"} <= set(report)
    assert report["deployment"] == "shop" and report["window"] == "1h"
    point = report["ops"][0]
    assert set(point) == {
        "time",
        "variant",
        "requests",
        "errors",
        "error_rate",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "throughput_rps",
    }
    feature = report["drift"]["features"][0]
    assert {"feature", "statistic", "value", "threshold", "drifted", "baseline", "live"} <= set(feature)
    assert set(feature["baseline"]) == {"bins", "counts"}
    assert report["health"]["colour"] in ("green", "amber", "red") and 0 <= report["health"]["score"] <= 100

    items = [{"request_id": r, "label": label} for r, label in zip(ids, labels, strict=True)]
    status, body = await api("POST", "deployments", "shop", "feedback", body={"items": items})
    assert (status, body) == (200, {"accepted": 3})

    status, body = await api("GET", "alerts")
    assert status == 200 and isinstance(body["items"], list)
    status, fleet = await api("GET", "health")
    assert status == 200 and "shop" in [d["name"] for d in fleet["deployments"]]
    assert fleet["colour"] in ("green", "amber", "red")


async def test_bad_monitoring_input_is_4xx_with_a_message(api, monitored) -> None:
    ids = monitored.send(make_rows(np.random.default_rng(8), 100))
    cases = [
        ("GET", ("deployments", "shop", "monitoring"), None, {"window": "5s"}, 400, "window"),
        ("GET", ("deployments", "shop", "monitoring"), None, {"window": "1y"}, 400, "window"),
        ("GET", ("deployments", "nope", "monitoring"), None, {}, 404, "No deployment"),
        (
            "POST",
            ("deployments", "shop", "feedback"),
            {"items": [{"request_id": "zzz", "label": 1}]},
            {},
            400,
            "not in the inference log",
        ),
        (
            "POST",
            ("deployments", "shop", "feedback"),
            {"items": [{"request_id": ids[0], "label": {"a": 1}}]},
            {},
            400,
            "number, string or boolean",
        ),
        ("POST", ("deployments", "shop", "feedback"), {"items": "x"}, {}, 400, "items"),
        ("POST", ("deployments", "shop", "feedback"), {"items": []}, {}, 400, "No feedback"),
        ("POST", ("deployments", "shop", "feedback"), "[1]", {}, 400, "JSON object"),
        (
            "PUT",
            ("deployments", "shop", "alert-rules"),
            {
                "rules": [
                    {
                        "name": "x",
                        "metric": "p95_ms",
                        "threshold": 1,
                        "window": "1h",
                        "webhook": "http://169.254.169.254/",
                    }
                ]
            },
            {},
            400,
            "Refusing webhook",
        ),
        ("GET", ("health",), None, {"window": "0m"}, 400, "window"),
        ("POST", ("alerts", "abc", "ack"), {}, {}, 400, "alert ids"),
        ("POST", ("alerts", "987654", "ack"), {}, {}, 404, "No alert"),
    ]
    for method, parts, body, params, expected, fragment in cases:
        status, answer = await api(method, *parts, body=body, params=params)
        assert status == expected, (parts, answer)
        assert fragment in answer["message"], (parts, answer)
        assert "Traceback" not in answer["message"]
