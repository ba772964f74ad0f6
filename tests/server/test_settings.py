"""Deployment settings over REST: fields on POST /deployments, GET and PATCH /deployments/{name}/settings.

A real Jupyter server with the extension, on the session's MLflow store and serving daemon.
"""

from __future__ import annotations

import pytest


async def test_settings_at_deploy_then_patched(api, mlops, iris_version) -> None:
    name = "iris-rest-settings"
    # Given a deployment created with settings at the top of the body and in "settings"
    body = {
        "model": f"iris/{iris_version.version}", "name": name,
        "max_rows": 5, "settings": {"timeout_ms": 3000, "monitoring": {"drift_share": 0.4}},
    }  # fmt: skip
    status, created, _ = await api("POST", "deployments", body=body)
    assert status == 202, created
    try:
        mlops.target("local").wait_ready(name, 120)  # deploys answer at once; configure would wait for it
        status, settings, _ = await api("GET", "deployments", name, "settings")
        assert status == 200
        assert (settings["max_rows"], settings["timeout_ms"], settings["monitoring"]["drift_share"]) == (5, 3000, 0.4)

        # When some settings are patched
        patch = {"max_rows": 9, "auto_rollback": False, "monitoring": {"thresholds": {"ks": 0.01}}}
        status, changed, _ = await api("PATCH", "deployments", name, "settings", body=patch, request_timeout=120)
        # Then all of them come back, the patch merged in
        assert status == 200, changed
        assert (changed["max_rows"], changed["timeout_ms"], changed["auto_rollback"]["enabled"]) == (9, 3000, False)
        assert changed["monitoring"] == {**settings["monitoring"], "thresholds": {"ks": 0.01}}
        # ... the daemon enforces them, and the ledger names the authenticated user
        assert mlops.configure(name).max_rows == 9
        entry = [e for e in mlops.audit_events(f"deployment/{name}") if e.action == "configure"][-1]
        assert entry.after["max_rows"] == 9 and entry.actor != "tester"
    finally:
        await api("DELETE", "deployments", name)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"timeout_ms": -5}, "timeout_ms"),
        ({"max_queue": 10**7}, "max_queue"),
        ({"monitoring": {"drift_share": 0}}, "monitoring.drift_share"),
        ({"batching": {"max_wait_ms": -1}}, "batching.max_wait_ms"),
        ({"bogus": 1}, "'bogus'"),
        ({"name": "other"}, "'name'"),
        ({"isolated": True}, "choose it when deploying"),
        ({}, "object of settings"),
    ],
)
async def test_bad_settings_answer_400_naming_the_field(api, mlops, iris_version, body, fragment) -> None:
    name = "iris-rest-bad-settings"
    if name not in [d.name for d in mlops.deployments()]:
        mlops.deploy(f"iris/{iris_version.version}", name)  # waits until ready
    status, reply, _ = await api("PATCH", "deployments", name, "settings", body=body)
    assert status == 400 and fragment in reply["message"], reply


async def test_bad_settings_on_deploy_answer_400_and_deploy_nothing(api, iris_version) -> None:
    body = {"model": f"iris/{iris_version.version}", "name": "iris-rest-refused", "timeout_ms": 0}
    status, reply, _ = await api("POST", "deployments", body=body)
    assert status == 400 and "timeout_ms" in reply["message"], reply
    body = {
        "model": f"iris/{iris_version.version}",
        "name": "iris-rest-refused",
        "max_rows": 1,
        "settings": {"max_rows": 2},
    }
    status, reply, _ = await api("POST", "deployments", body=body)
    assert status == 400 and "max_rows" in reply["message"], reply
    status, _, _ = await api("GET", "deployments", "iris-rest-refused")
    assert status == 404


async def test_settings_of_a_missing_deployment_are_404(api) -> None:
    status, reply, _ = await api("PATCH", "deployments", "nothing-here", "settings", body={"max_rows": 3})
    assert status == 404 and "No deployment" in reply["message"]
