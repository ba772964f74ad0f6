"""Identity, roles, approvals, isolation, tokens, lineage and cards through the MLOps facade (real MLflow, real
daemon). Alice owns her server; bob, carol (approver), dave (viewer) and erin (admin) act on it."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from jupyter_mlops.core.errors import Conflict, Forbidden, InvalidRequest
from jupyter_mlops.core.models import DeploymentState
from jupyter_mlops.core.principal import Principal


@pytest.fixture(scope="module")
def alice(server_of):
    return server_of("alice")


@pytest.fixture(scope="module")
def alice_model(alice, trained_model, iris):
    """Two versions of ``gov-iris`` registered by alice on her server."""
    X, y = iris
    first = alice.register(trained_model, "gov-iris", X, y)
    renamed = X.rename(columns={"petal_width": "petal_w"})
    retrained = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(renamed, y)
    second = alice.register(retrained, "gov-iris", renamed, y)
    return first, second


@pytest.fixture(scope="module")
def alice_deployment(alice, alice_model):
    deployment = alice.deploy("gov-iris/1", "gov-alice")
    assert deployment.state == DeploymentState.ready
    yield deployment
    alice.undeploy("gov-alice")


def test_mutations_are_recorded_with_actor_owner_before_and_after(alice, alice_model) -> None:
    first, _ = alice_model
    # Given bob acting on alice's server (shared access): he is the actor, alice the owner
    alice.acting_as(Principal(name="alice")).set_alias("gov-iris", "staging", first.version)
    events = alice.audit_events("model/gov-iris")

    registered = [e for e in events if e.action == "register"]
    assert [e.target for e in registered] == ["model/gov-iris/1", "model/gov-iris/2"]
    alias = next(e for e in events if e.action == "set_alias")
    assert (alias.actor, alias.owner, alias.before, alias.after) == (
        "alice",
        "alice",
        {"version": None},
        {"version": "1"},
    )
    assert alice.verify_audit().ok


def test_another_user_cannot_see_use_or_change_alices_deployment(server_of, alice, alice_deployment) -> None:
    name = alice_deployment.name
    assert name not in [d.name for d in alice.acting_as(Principal(name="bob")).deployments()]
    assert name in [d.name for d in alice.acting_as(Principal(name="alice")).deployments()]
    for attempt in (
        lambda: alice.acting_as(Principal(name="bob")).deployment(name),
        lambda: alice.acting_as(Principal(name="bob")).invoke(name, b'{"inputs": [[1, 2, 3, 4]]}'),
        lambda: alice.acting_as(Principal(name="bob")).undeploy(name),
        lambda: alice.acting_as(Principal(name="bob")).deploy("gov-iris/2", name, replace=True),
    ):
        with pytest.raises(Forbidden, match="belongs to 'alice'"):
            attempt()
    refused = [e for e in alice.audit_events(f"deployment/{name}") if e.outcome == "refused"]
    assert {e.action for e in refused} == {"read", "undeploy", "deploy"} and {e.actor for e in refused} == {"bob"}
    # an admin may act on it
    assert alice.acting_as(Principal(name="erin")).deployment(name).owner == "alice"


def test_a_viewer_cannot_register_or_deploy(alice, trained_model, iris) -> None:
    X, y = iris
    with pytest.raises(Forbidden, match="viewer role"):
        alice.acting_as(Principal(name="dave")).register(trained_model, "gov-viewer", X, y)
    with pytest.raises(Forbidden, match="viewer role"):
        alice.acting_as(Principal(name="dave")).deploy("gov-iris/1", "gov-viewer")


def test_roles_come_from_configuration_hub_groups_and_hub_scopes(alice) -> None:
    assert alice.acting_as(Principal(name="carol")).whoami().role == "approver"
    assert alice.acting_as(Principal(name="frank")).whoami().role == "deployer"
    assert alice.acting_as(Principal(name="frank", groups=("reviewers",))).whoami().role == "approver"
    # roles implied by JupyterHub custom scopes; the highest wins
    assert alice.acting_as(Principal(name="gina", scopes=frozenset({"custom:mlops:admin"}))).whoami().role == "admin"
    read_only = Principal.from_scopes("hal", ["custom:mlops:read!user=hal", "access:servers"])
    assert read_only.scopes == frozenset({"custom:mlops:read"})
    assert alice.acting_as(read_only).whoami().role == "viewer"
    both = Principal(name="dave", scopes=frozenset({"custom:mlops:approve"}))  # dave is a viewer by name
    assert alice.acting_as(both).whoami().role == "approver"


def test_acting_as_is_a_view_sharing_everything_and_acting_as_its_principal(alice, alice_model) -> None:
    bob = alice.acting_as(Principal(name="bob"))
    assert (bob.principal.name, alice.principal.name, bob.user) == ("bob", "alice", "alice")
    assert bob.store is alice.store and bob.registry is alice.registry and bob.governance is alice.governance
    assert bob.targets is alice.targets and bob.monitoring is alice.monitoring
    bob.close()  # a view closes nothing: alice's facade keeps working
    assert alice.model("gov-iris").name == "gov-iris"


def test_a_protected_alias_moves_only_with_an_approval_from_another_approver(alice, alice_model) -> None:
    first, second = alice_model
    alice.set_alias("gov-iris", "staging", first.version)
    with pytest.raises(Forbidden, match="needs an approval"):
        alice.set_alias("gov-iris", "production", second.version)

    request = alice.request_approval("set_alias", "model/gov-iris@production", {"version": second.version})
    assert request.status == "pending" and request.requested_by == "alice"
    assert "training_score" in request.evidence["candidate"]["metrics"]

    with pytest.raises(Forbidden, match="only approvers"):
        alice.acting_as(Principal(name="alice")).grant(request.id)
    # nobody decides their own request, not even an admin
    own = alice.acting_as(Principal(name="erin")).request_approval(
        "set_alias", "model/gov-iris@production", {"version": first.version}
    )
    with pytest.raises(Forbidden, match="cannot grant it"):
        alice.acting_as(Principal(name="erin")).grant(own.id)
    alice.acting_as(Principal(name="carol")).reject(own.id)
    with pytest.raises(Forbidden, match="only approvers"):
        alice.acting_as(Principal(name="bob")).grant(request.id)
    granted = alice.acting_as(Principal(name="carol")).grant(request.id, comment="metrics hold")
    assert (granted.status, granted.decided_by) == ("granted", "carol")
    with pytest.raises(Conflict):
        alice.acting_as(Principal(name="carol")).reject(request.id)

    assert "production" in alice.set_alias("gov-iris", "production", second.version).aliases
    # the approval is used up by the change
    assert alice.governance.approval(request.id).status == "used"
    with pytest.raises(Forbidden, match="needs an approval"):
        alice.set_alias("gov-iris", "production", first.version)
    actions = [e.action for e in alice.audit_events(f"approval/{request.id}")]
    assert actions[:1] == ["request_approval"] and "grant" in actions


def test_a_deploy_request_shows_metrics_baseline_and_schema_difference(alice, alice_model, alice_deployment) -> None:
    # alice's deployment serves v1; v2 renamed a column
    request = alice.request_approval("deploy", "deployment/gov-alice", {"model": "gov-iris/2"})
    evidence = request.evidence
    assert evidence["candidate"]["model"] == "models:/gov-iris/2"
    assert evidence["baseline"]["model"] == "models:/gov-iris/1"
    assert evidence["schema_diff"]["added"] == ["petal_w"] and evidence["schema_diff"]["removed"] == ["petal_width"]
    alice.acting_as(Principal(name="carol")).reject(request.id)
    with pytest.raises(InvalidRequest):
        alice.request_approval("undeploy", "deployment/gov-alice", {})


def test_a_protected_deployment_needs_approval_and_its_endpoint_needs_its_token(alice, alice_model) -> None:
    with pytest.raises(Forbidden, match="needs an approval"):
        alice.deploy("gov-iris/1", "gov-prod")
    request = alice.request_approval("deploy", "deployment/gov-prod", {"model": "gov-iris/1"})
    alice.acting_as(Principal(name="carol")).grant(request.id)
    deployment = alice.deploy("gov-iris/1", "gov-prod")
    try:
        assert deployment.state == DeploymentState.ready
        url = alice.target("local").endpoint_url("gov-prod")
        body = {
            "dataframe_split": {
                "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
                "data": [[5.1, 3.5, 1.4, 0.2]],
            }
        }
        # Directly on the loopback port: refused without the token, refused with another's, served with its own
        assert httpx.post(url, json=body, trust_env=False).status_code == 401
        bad = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}, trust_env=False)
        assert bad.status_code == 403
        token = alice.issue_token("gov-prod")
        ok = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, trust_env=False)
        assert ok.status_code == 200 and ok.json()["predictions"] == [0]
        # through the owner's server (the proxy route) it keeps working without the user holding the token
        assert alice.predict(
            "gov-prod", pd.DataFrame(body["dataframe_split"]["data"], columns=body["dataframe_split"]["columns"])
        ) == [0]
    finally:
        alice.undeploy("gov-prod")


def test_the_ledger_answers_what_served_a_deployment_at_a_time(alice, alice_model) -> None:
    first = alice.deploy("gov-iris/1", "gov-history")
    try:
        at_v1 = alice.audit_events("deployment/gov-history")[-1].at
        alice.deploy("gov-iris/2", "gov-history", replace=True)
        at_v2 = alice.audit_events("deployment/gov-history")[-1].at
    finally:
        alice.undeploy("gov-history")
    assert first.model_version == "1"
    assert alice.served_at("gov-history", at_v1).model_version == "1"
    assert alice.served_at("gov-history", at_v1 + (at_v2 - at_v1) / 2).model_version == "1"
    assert alice.served_at("gov-history", at_v2).model_version == "2"
    assert alice.served_at("gov-history", "2999-01-01T00:00:00Z").serving is False
    csv_text = alice.export_audit("deployment/gov-history", format="csv")
    assert csv_text.splitlines()[0].startswith("seq,at,action") and csv_text.count("\n") >= 4


def test_lineage_chain_runs_from_deployment_to_notebook_commit_and_data(alice, alice_deployment) -> None:
    chain = alice.lineage("gov-alice")
    kinds = [n.kind for n in chain.nodes]
    assert kinds[:3] == ["deployment", "version", "run"]
    assert {"environment", "data"} <= set(kinds)
    assert chain.nodes[1].id == "models:/gov-iris/1"
    assert chain.nodes[0].detail["owner"] == "alice"
    assert [n.kind for n in alice.lineage("gov-iris/2").nodes][0] == "version"


def test_model_card_is_generated_edited_and_stored_as_an_artifact_of_the_version(alice, alice_model) -> None:
    card = alice.card("gov-iris", "1")
    assert card.metrics["training_score"] > 0.9 and card.signature is not None
    assert "_Not written yet._" in card.markdown

    alice.update_card("gov-iris", "1", {"intended_use": "Teaching.", "limitations": "Only iris flowers."})
    again = alice.card("gov-iris", "1")  # read back from MLflow
    assert (again.intended_use, again.limitations) == ("Teaching.", "Only iris flowers.")
    assert "## Intended use\n\nTeaching." in again.markdown
    run_id = alice.registry.version("gov-iris", "1").run_id
    assert {a.path for a in alice.registry.client.list_artifacts(run_id, "model_card")} == {
        "model_card/card.json",
        "model_card/card.md",
    }
    with pytest.raises(InvalidRequest, match="Only intended_use, limitations"):
        alice.update_card("gov-iris", "1", {"metrics": "made up"})


def test_rollout_changes_are_authorized_and_recorded(alice, alice_model) -> None:
    alice.deploy("gov-iris/1", "gov-roll")
    try:
        alice.deploy("gov-iris/2", "gov-roll", canary=20)
        with pytest.raises(Forbidden, match="belongs to 'alice'"):
            alice.acting_as(Principal(name="bob")).promote("gov-roll")
        alice.promote("gov-roll")
        promoted = alice.audit_events("deployment/gov-roll")[-1]
    finally:
        alice.undeploy("gov-roll")
    assert promoted.action == "promote" and promoted.before["model_version"] == "1"
    assert alice.served_at("gov-roll", promoted.at).model_version == "2"
