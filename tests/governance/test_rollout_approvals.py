"""Approvals for promote, traffic changes, sync and rollback on protected deployments (real MLflow, real daemon).

Alice owns her server and the ``gov-roll-prod`` deployment; bob is an approver, erin an admin. Rollback is made
protected here (it is not by default) to show that an admin may still roll back in an emergency.
"""

from __future__ import annotations

from typing import Any

import pytest
from sklearn.ensemble import GradientBoostingClassifier

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.errors import Forbidden
from jupyter_mlops.core.models import DeploymentState
from jupyter_mlops.core.principal import Principal

DEPLOYMENT = "gov-roll-prod"
TARGET = f"deployment/{DEPLOYMENT}"


@pytest.fixture(scope="module")
def governed_config(gov_config: MLOpsConfig) -> MLOpsConfig:
    """Overrides the package's: bob approves, erin is an admin, and rollback is protected too."""
    return MLOpsConfig(
        data_dir=gov_config.data_dir,
        roles={"bob": "approver", "erin": "admin"},
        protected_deployments=["*-prod"],
        protected_actions=["deploy", "promote", "set_traffic", "sync", "rollback"],
        isolate_users=True,
    )


@pytest.fixture(scope="module")
def alice(server_of):
    return server_of("alice")


def _approved(alice: Any, action: str, payload: dict[str, Any] | None = None) -> Any:
    """Alice asks, bob grants: the approval of one change of the protected deployment."""
    request = alice.request_approval(action, TARGET, payload)
    return alice.acting_as(Principal(name="bob")).grant(request.id, comment="looks fine")


@pytest.fixture(scope="module")
def canary_on_prod(alice, trained_model, iris):
    """``gov-roll`` v1 as the primary of the protected deployment and v2 as a 20% canary, each approved."""
    X, y = iris
    alice.register(trained_model, "gov-roll", X, y)
    alice.register(GradientBoostingClassifier(n_estimators=5, random_state=0).fit(X, y), "gov-roll", X, y)
    _approved(alice, "deploy", {"model": "gov-roll/1"})
    alice.deploy("gov-roll/1", DEPLOYMENT)
    _approved(alice, "deploy", {"model": "gov-roll/2"})
    deployment = alice.deploy("gov-roll/2", DEPLOYMENT, canary=20)
    assert deployment.state == DeploymentState.ready
    yield deployment
    alice.undeploy(DEPLOYMENT)


def _weights(deployment: Any) -> dict[str, int]:
    return {v.name: v.weight for v in deployment.variants}


def test_rollback_is_not_protected_by_default_and_protected_actions_are_configurable(gov_mlops) -> None:
    from jupyter_mlops.core.governance import Governance

    defaults = MLOpsConfig(data_dir="/nonexistent", protected_deployments=["*-prod"])
    policy = Governance(defaults, gov_mlops.store, gov_mlops.audit)
    assert [
        a
        for a in ("deploy", "promote", "set_traffic", "sync", "rollback")
        if policy.is_protected(a, deployment="x-prod")
    ] == [
        "deploy",
        "promote",
        "set_traffic",
        "sync",
    ]
    assert not policy.is_protected("promote", deployment="x-dev")
    only_traffic = MLOpsConfig(data_dir="/nonexistent", protected_deployments=["*"], protected_actions=["set_traffic"])
    narrow = Governance(only_traffic, gov_mlops.store, gov_mlops.audit)
    assert narrow.is_protected("set_traffic", deployment="a") and not narrow.is_protected("deploy", deployment="a")


def test_a_traffic_change_needs_an_approval_of_exactly_those_weights_used_once(alice, canary_on_prod) -> None:
    with pytest.raises(Forbidden) as refused:
        alice.set_traffic(DEPLOYMENT, {"primary": 50, "canary": 50})
    assert (
        "set traffic" in refused.value.message and '"weights": {"primary": 50, "canary": 50}' in refused.value.message
    )

    approval = _approved(alice, "set_traffic", {"weights": {"primary": 50, "canary": 50}})
    assert approval.payload["proposed"] == "primary=gov-roll/1@50%, canary=gov-roll/2@50%"
    with pytest.raises(Forbidden, match="needs an approval"):  # other weights than approved
        alice.set_traffic(DEPLOYMENT, {"primary": 70, "canary": 30})
    assert _weights(alice.set_traffic(DEPLOYMENT, {"primary": 50, "canary": 50})) == {"primary": 50, "canary": 50}
    assert alice.governance.approval(approval.id).status == "used"
    with pytest.raises(Forbidden, match="needs an approval"):  # the grant is used up
        alice.set_traffic(DEPLOYMENT, {"primary": 50, "canary": 50})


def test_promote_needs_an_approval_that_shows_current_and_proposed_and_is_audited(alice, canary_on_prod) -> None:
    with pytest.raises(Forbidden) as refused:
        alice.promote(DEPLOYMENT)
    message = refused.value.message
    assert f"{TARGET} is protected: promote (to primary=gov-roll/2@100%) needs an approval" in message
    assert "mlops.request_approval('promote', 'deployment/gov-roll-prod')" in message

    request = alice.request_approval("promote", TARGET)
    evidence = request.evidence
    assert [(v["name"], v["model_version"]) for v in evidence["current"]][:2] == [("primary", "1"), ("canary", "2")]
    assert [(v["name"], v["model_version"], v["weight"]) for v in evidence["proposed"]] == [("primary", "2", 100)]
    assert (
        evidence["candidate"]["model"] == "models:/gov-roll/2" and "training_score" in evidence["candidate"]["metrics"]
    )
    assert evidence["baseline"]["model"] == "models:/gov-roll/1"
    assert evidence["schema_diff"] == {"added": [], "removed": [], "changed": {}}
    with pytest.raises(Forbidden, match="only approvers and admins may grant"):
        alice.grant(request.id)  # a deployer cannot approve (nor could anyone their own request)

    granted = alice.acting_as(Principal(name="bob")).grant(request.id)
    promoted = alice.promote(DEPLOYMENT)
    assert promoted.model_version == "2" and _weights(promoted) == {"primary": 100}
    assert alice.governance.approval(request.id).status == "used"

    history = alice.audit_events(TARGET)
    refusal = next(e for e in history if e.action == "promote" and e.outcome == "refused")
    done = history[-1]
    assert refusal.actor == "alice" and "needs an approval" in (refusal.detail or "")
    assert (done.action, done.outcome, done.actor) == ("promote", "ok", "alice")
    assert done.detail == f"approval #{granted.id} granted by bob"
    assert done.before["model_version"] == "1" and done.after["model_version"] == "2"
    decisions = alice.audit_events(f"approval/{request.id}")
    assert [(e.action, e.actor, e.outcome) for e in decisions] == [
        ("request_approval", "alice", "ok"),
        ("grant", "alice", "refused"),
        ("grant", "bob", "ok"),
    ]


def test_an_admin_may_roll_back_without_approval_recorded_as_an_emergency(alice, canary_on_prod) -> None:
    # After the promote test this returns to v1 as the primary; alone, it drops the v2 canary: v1 serves either way.
    with pytest.raises(Forbidden, match="rollback .*needs an approval"):
        alice.rollback(DEPLOYMENT)

    rolled = alice.acting_as(Principal(name="erin")).rollback(DEPLOYMENT)
    assert rolled.model_version == "1"
    last = alice.audit_events(TARGET)[-1]
    assert (last.action, last.actor, last.owner) == ("rollback", "erin", "alice")
    assert last.detail == "emergency rollback by admin 'erin' without an approval"


@pytest.fixture
def jp_server_config(gov_config: Any) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MLOpsConfig": {"data_dir": gov_config.data_dir, "protected_deployments": ["*-prod"]},
    }


@pytest.mark.usefixtures("_restore_settings_env")
async def test_over_rest_a_rollout_change_is_403_until_its_approval_is_granted(api, alice, canary_on_prod) -> None:
    _approved(alice, "deploy", {"model": "gov-roll/2"})
    alice.deploy("gov-roll/2", DEPLOYMENT, canary=10, wait=False)

    status, error, _ = await api(
        "PUT", "deployments", DEPLOYMENT, "traffic", body={"weights": {"canary": 30, "primary": 70}}
    )
    assert status == 403 and "needs an approval" in error["message"]
    # The refusal carries the request that would allow the change, so the sidebar files it in one click.
    assert error["reason"] == "APPROVAL_REQUIRED"
    body = error["approval_request"]
    assert body == {"action": "set_traffic", "target": TARGET, "payload": {"weights": {"canary": 30, "primary": 70}}}
    status, request, _ = await api("POST", "approvals", body=body)
    assert status == 201 and request["payload"]["proposed"].endswith("canary=gov-roll/2@30%")
    assert {v["name"]: v["weight"] for v in request["evidence"]["proposed"]} == {"primary": 70, "canary": 30}
    alice.acting_as(Principal(name="bob")).grant(request["id"])

    status, changed, _ = await api(
        "PUT", "deployments", DEPLOYMENT, "traffic", body={"weights": {"canary": 30, "primary": 70}}
    )
    assert status == 202 and {v["name"]: v["weight"] for v in changed["variants"]} == {"primary": 70, "canary": 30}
    status, error, _ = await api("POST", "approvals", body={"action": "promote", "target": "model/gov-roll"})
    assert status == 400 and 'target "deployment/NAME"' in error["message"]
