"""Governance over REST on a real Jupyter server: audit, verify, served-at, approvals, cards, lineage, tokens."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_mlops.core.governance import AuditLedger
from jupyter_mlops.core.store import Store

pytestmark = pytest.mark.usefixtures("_restore_settings_env")  # the server tests export settings to os.environ


@pytest.fixture
def jp_server_config(gov_config: Any) -> dict[str, Any]:
    # The REST caller is an approver here, so it can grant what another user (alice, via Python) requested.
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MLOpsConfig": {
            "data_dir": gov_config.data_dir,
            "default_role": "approver",
            "protected_aliases": ["rest-prod"],
        },
    }


@pytest.fixture
def alice_facade(gov_mlops, gov_config):
    from jupyter_mlops.config import MLOpsConfig
    from jupyter_mlops.core.service import MLOps

    config = MLOpsConfig(data_dir=gov_config.data_dir, protected_aliases=["rest-prod"])
    return MLOps(config, user="alice", registry=gov_mlops.registry, store=gov_mlops.store, targets=gov_mlops.targets)


async def test_audit_lists_exports_verifies_and_answers_served_at(api, gov_config) -> None:
    store = Store(f"sqlite:///{gov_config.data_dir}/mlops.db")
    entry = AuditLedger(store).record(
        "deploy", "alice", "alice", "deployment/rest-audit", None, {"model_name": "iris", "model_version": "4"}
    )
    store.close()

    status, page, _ = await api("GET", "audit", params={"target": "deployment/rest-audit"})
    assert status == 200 and [e["seq"] for e in page["items"]] == [entry.seq]

    status, text, response = await api("GET", "audit", params={"target": "deployment/rest-audit", "format": "csv"})
    assert status == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert text.splitlines()[0].startswith("seq,at,action") and ",deploy," in text

    status, served, _ = await api(
        "GET", "audit", "served", params={"deployment": "rest-audit", "at": entry.at.isoformat()}
    )
    assert status == 200 and served["model_version"] == "4"

    status, report, _ = await api("GET", "audit", "verify")
    assert status == 200 and report["ok"] is True

    for params in ({"format": "xml"}, {"since": "not a time"}):
        status, error, _ = await api("GET", "audit", params=params)
        assert status == 400 and "message" in error
    status, error, _ = await api("GET", "audit", "served", params={"deployment": "rest-audit"})
    assert status == 400
    status, error, _ = await api("GET", "audit", "served", params={"deployment": "rest-audit", "at": "1999-01-01"})
    assert status == 404


async def test_approval_requested_by_alice_is_granted_over_rest_and_self_grant_is_refused(
    api, alice_facade, gov_iris
) -> None:
    request = alice_facade.request_approval("set_alias", "model/iris@rest-prod", {"version": "1"})

    status, listed, _ = await api("GET", "approvals", params={"status": "pending"})
    assert status == 200 and request.id in [a["id"] for a in listed["items"]]

    status, granted, _ = await api("POST", "approvals", str(request.id), "grant", body={"comment": "ok"})
    assert status == 200 and granted["status"] == "granted" and granted["comment"] == "ok"
    assert "rest-prod" in alice_facade.set_alias("iris", "rest-prod", "1").aliases

    # the REST user requests one itself and may not grant it
    status, own, response = await api(
        "POST", "approvals", body={"action": "set_alias", "target": "model/iris@rest-prod", "payload": {"version": "1"}}
    )
    assert status == 201 and response.headers["Location"].endswith(f"/mlops/api/approvals/{own['id']}")
    assert own["evidence"]["baseline"]["model"] == "models:/iris/1"
    status, error, _ = await api("POST", "approvals", str(own["id"]), "grant", body={})
    assert status == 403 and "different approver" in error["message"]

    status, error, _ = await api("POST", "approvals", "abc", "reject", body={})
    assert status == 400
    status, error, _ = await api("POST", "approvals", "999999", "reject", body={})
    assert status == 404
    status, error, _ = await api("POST", "approvals", body={"action": "delete_model", "target": "model/iris"})
    assert status == 400 and "Approvals cover" in error["message"]


async def test_card_lineage_and_identity(api, gov_iris) -> None:
    status, card, _ = await api("GET", "models", "iris", "versions", "1", "card")
    assert status == 200 and card["name"] == "iris" and "# Model card: iris v1" in card["markdown"]

    status, card, _ = await api("PUT", "models", "iris", "versions", "1", "card", body={"limitations": "Toy data."})
    assert status == 200 and card["limitations"] == "Toy data."
    status, error, _ = await api("PUT", "models", "iris", "versions", "1", "card", body={"metrics": {}})
    assert status == 400

    status, chain, _ = await api("GET", "models", "iris", "versions", "1", "lineage")
    assert status == 200 and chain["nodes"][0]["kind"] == "version"
    status, _, _ = await api("GET", "deployments", "no-such-deployment", "lineage")
    assert status == 404

    status, me, _ = await api("GET", "whoami")
    assert status == 200 and me["role"] == "approver"
