"""Governance under a real JupyterHub: alice registers and deploys; bob is refused her deployment through REST
(on his server and on hers), through the serving proxy route and directly on the daemon's loopback port; carol
(an approver through her hub group) grants alice's production change; the ledger answers "what served at time T"
and detects a tampered entry."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingClassifier

ROW = {
    "dataframe_split": {
        "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
        "data": [[5.1, 3.5, 1.4, 0.2]],
    }
}


@pytest.fixture(scope="module")
def alice_deployment(hub):
    """alice registers hub-iris v1 in the team's MLflow (from her notebook) and deploys it on her server."""
    from jupyter_mlops.config import MLOpsConfig
    from jupyter_mlops.core.service import MLOps

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ROW["dataframe_split"]["columns"]
    model = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X, y)
    notebook = MLOps(MLOpsConfig(data_dir=str(hub.data_dir)), user="alice", targets={})
    notebook.register(model, "hub-iris", X, y)
    notebook.store.close()

    response = hub.call(
        "alice", "POST", "alice", "/deployments", json={"model": "hub-iris/1", "name": "alice-iris", "wait": True}
    )
    assert response.status_code == 201, response.text
    deployment = response.json()
    assert deployment["owner"] == "alice" and deployment["state"] == "ready"
    return deployment


def test_identity_is_the_hub_user_and_roles_come_from_hub_groups(hub) -> None:
    me = hub.call("bob", "GET", "alice", "/whoami").json()
    assert {k: me[k] for k in ("user", "owner", "role")} == {"user": "bob", "owner": "alice", "role": "deployer"}
    assert hub.call("carol", "GET", "carol", "/whoami").json()["role"] == "approver"


def test_bob_cannot_see_use_or_change_alices_deployment(hub, alice_deployment) -> None:
    name = alice_deployment["name"]
    # on his own server (same team store) and on alice's (shared access): neither listed nor readable
    for server in ("bob", "alice"):
        listed = hub.call("bob", "GET", server, "/deployments").json()["items"]
        assert name not in [d["name"] for d in listed]
        refused = hub.call("bob", "GET", server, f"/deployments/{name}")
        assert refused.status_code == 403 and "belongs to 'alice'" in refused.json()["message"]
        assert hub.call("bob", "POST", server, f"/deployments/{name}/predict", json=ROW).status_code == 403
    assert hub.call("bob", "DELETE", "alice", f"/deployments/{name}").status_code == 403
    # alice herself is served through the proxy route
    assert hub.call("alice", "POST", "alice", f"/deployments/{name}/predict", json=ROW).json()["predictions"] == [0]

    # directly on the daemon's loopback port: nobody without the deployment's token
    url = alice_deployment["url"]
    assert httpx.post(url, json=ROW, trust_env=False).status_code == 401
    token = hub.call("alice", "POST", "alice", f"/deployments/{name}/token").json()["token"]
    assert httpx.post(url, json=ROW, headers={"Authorization": "Bearer guessed"}, trust_env=False).status_code == 403
    served = httpx.post(url, json=ROW, headers={"Authorization": f"Bearer {token}"}, trust_env=False)
    assert served.status_code == 200 and served.json()["predictions"] == [0]

    # and bob's refusals are in the ledger: actor bob, owner alice
    entries = hub.call("alice", "GET", "alice", "/audit", params={"target": f"deployment/{name}"}).json()["items"]
    refused_entries = [e for e in entries if e["outcome"] == "refused"]
    assert refused_entries and {(e["actor"], e["owner"]) for e in refused_entries} == {("bob", "alice")}


def test_an_approver_grants_alices_production_change(hub, alice_deployment) -> None:
    spec = {"model": "hub-iris/1", "name": "alice-prod", "wait": True}
    refused = hub.call("alice", "POST", "alice", "/deployments", json=spec)
    assert refused.status_code == 403 and "needs an approval" in refused.json()["message"]

    request = hub.call(
        "alice", "POST", "alice", "/approvals",
        json={"action": "deploy", "target": "deployment/alice-prod", "payload": {"model": "hub-iris/1"}},
    )  # fmt: skip
    assert request.status_code == 201, request.text
    approval = request.json()
    assert approval["evidence"]["candidate"]["metrics"]["training_score"] > 0.9

    assert hub.call("alice", "POST", "alice", f"/approvals/{approval['id']}/grant").status_code == 403
    assert hub.call("bob", "POST", "bob", f"/approvals/{approval['id']}/grant").status_code == 403
    granted = hub.call("carol", "POST", "carol", f"/approvals/{approval['id']}/grant", json={"comment": "go"})
    assert granted.status_code == 200 and granted.json()["decided_by"] == "carol"

    deployed = hub.call("alice", "POST", "alice", "/deployments", json=spec)
    assert deployed.status_code == 201, deployed.text
    assert hub.call("alice", "DELETE", "alice", "/deployments/alice-prod").status_code == 204


def test_the_ledger_answers_what_served_at_a_time_and_detects_tampering(hub, alice_deployment) -> None:
    entries = hub.call("alice", "GET", "alice", "/audit", params={"target": "deployment/alice-iris"}).json()["items"]
    deployed_at = datetime.fromisoformat(
        next(e["at"] for e in entries if e["action"] == "deploy" and e["outcome"] == "ok")
    )

    later = (deployed_at + timedelta(milliseconds=1)).isoformat()
    served = hub.call("alice", "GET", "alice", "/audit/served", params={"deployment": "alice-iris", "at": later})
    assert served.status_code == 200 and served.json()["model_version"] == "1"
    before = (deployed_at - timedelta(minutes=5)).astimezone(timezone.utc).isoformat()
    assert (
        hub.call(
            "alice", "GET", "alice", "/audit/served", params={"deployment": "alice-iris", "at": before}
        ).status_code
        == 404
    )

    assert hub.call("carol", "GET", "carol", "/audit/verify").json()["ok"] is True
    seq = next(e["seq"] for e in entries if e["action"] == "deploy")
    with sqlite3.connect(hub.data_dir / "mlops.db") as connection:
        connection.execute('UPDATE mlops_audit SET after = \'{"model_version": "7"}\' WHERE seq = ?', (seq,))
    report = hub.call("carol", "GET", "carol", "/audit/verify").json()
    assert report["ok"] is False and report["first_broken"] == seq
