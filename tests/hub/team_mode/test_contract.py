"""One contract, two implementations: the embedded facade (``MLOps``) and the remote client of the MLOps hub service
(``RemoteMLOps``) run the same tests, on the same store, MLflow and serving daemon, as the same hub users.

Each case acts through ``facade(user)``: the embedded facade bound to the user's principal (the scopes the hub
grants them), or the remote client with the user's own hub token. Same results, same typed records, same errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import pytest

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.errors import ApprovalRequired, Forbidden, InvalidRequest, NotFound
from jupyter_mlops.core.facade import MLOpsAPI
from jupyter_mlops.core.governance.audit import ChainReport
from jupyter_mlops.core.models import Deployment, ModelVersion
from jupyter_mlops.core.principal import Principal

from .conftest import TeamHub

pytestmark = pytest.mark.slow

SCOPES = {
    "alice": {"custom:mlops:deploy"},
    "bob": {"custom:mlops:deploy"},
    "carol": {"custom:mlops:approve"},
    "erin": {"custom:mlops:admin"},
}
X = pd.DataFrame([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], columns=["sepal_length", "sepal_width", "petal_length",
                                                                      "petal_width"])  # fmt: skip


@pytest.fixture(params=["embedded", "remote"])
def facade(request: pytest.FixtureRequest, team_hub: TeamHub) -> Iterator[Callable[[str], MLOpsAPI]]:
    """``facade(user)``: the implementation under test acting as a hub user."""
    made: list[Any] = []
    if request.param == "embedded":
        from jupyter_mlops.core.service import MLOps

        config = MLOpsConfig(
            data_dir=team_hub.service_config["JUPYTER_MLOPS_DATA_DIR"],
            store_url=team_hub.service_config["JUPYTER_MLOPS_STORE_URL"],
            protected_deployments=["*-prod"],
            isolate_users=True,
            require_deployment_token=True,
            isolate_deployments=True,  # as the service (its default in team mode)
        )

        def make(user: str) -> MLOpsAPI:
            service = MLOps(config, principal=Principal(name=user, scopes=frozenset(SCOPES[user])))
            made.append(service)
            return service
    else:
        from jupyter_mlops.hub.client import RemoteMLOps

        def make(user: str) -> MLOpsAPI:
            client = RemoteMLOps(team_hub.service_url, token=team_hub.tokens[user])
            made.append(client)
            return client

    yield make
    for item in made:
        item.close()


def _name(facade_fixture: Any, request: pytest.FixtureRequest, base: str) -> str:
    return f"{base}-{request.node.callspec.params['facade'][0]}"


def test_whoami_names_the_bound_user_and_their_role(facade) -> None:
    me = facade("carol").whoami()
    assert me.user == "carol" and me.role == "approver"
    assert facade("erin").whoami().role == "admin"


def test_catalog_reads_return_typed_records(facade) -> None:
    erin = facade("erin")
    versions = erin.versions("iris")
    assert [type(v) for v in versions] == [ModelVersion] and versions[0].version == "1"
    assert erin.version("iris", "1").name == "iris"
    with pytest.raises(NotFound):
        erin.model("no-such-model")


def test_deploy_predict_undeploy(facade, request: pytest.FixtureRequest) -> None:
    alice = facade("alice")
    name = _name(facade, request, "contract")
    deployment = alice.deploy("iris/1", name=name)
    try:
        assert isinstance(deployment, Deployment)
        assert deployment.owner == "alice" and deployment.model_version == "1"
        assert name in [d.name for d in alice.deployments()]
        assert alice.deployment(name).state == deployment.state
        assert len(alice.predict(name, X)) == 2
        assert isinstance(alice.issue_token(name), str)
        # settings: read, changed (typed), and a bad one refused the same way through either door
        assert alice.configure(name).timeout_ms > 0
        assert alice.configure(name, timeout_ms=4321).timeout_ms == 4321
        with pytest.raises(InvalidRequest):
            alice.configure(name, max_queue=-1)
        # history, lineage, monitoring and health come back as the same typed records
        assert [type(e).__name__ for e in alice.events(name)][:1] == ["RolloutEvent"]
        served = alice.served_at(name, datetime.now(timezone.utc))
        assert served.serving and served.model_version == "1"
        assert type(alice.lineage(name)).__name__ == "LineageChain"
        report = alice.monitor(name, "1h")
        assert type(report).__name__ == "MonitoringReport" and report.deployment == name
        assert type(alice.health(name)).__name__ == "DeploymentHealth"
        # another deployer can neither see nor change it
        with pytest.raises(Forbidden):
            facade("bob").undeploy(name)
    finally:
        assert alice.undeploy(name) is True
    with pytest.raises(NotFound):
        alice.deployment(name)


def test_protected_deploy_and_the_approval_flow(facade, request: pytest.FixtureRequest) -> None:
    alice, carol = facade("alice"), facade("carol")
    name = _name(facade, request, "flow") + "-prod"
    with pytest.raises(ApprovalRequired) as refused:
        alice.deploy("iris/1", name=name)
    assert refused.value.request["target"] == f"deployment/{name}"
    approval = alice.request_approval("deploy", f"deployment/{name}", {"model": "iris/1"})
    with pytest.raises(Forbidden):
        alice.grant(approval.id)  # nobody approves their own request
    with pytest.raises(Forbidden):
        facade("bob").grant(approval.id)  # a deployer is no approver
    granted = carol.grant(approval.id, comment="ok")
    assert granted.status == "granted" and granted.id == approval.id
    try:
        assert alice.deploy("iris/1", name=name).owner == "alice"
    finally:
        alice.undeploy(name)


def test_bad_input_is_an_invalid_request(facade) -> None:
    with pytest.raises(InvalidRequest):
        facade("alice").deploy("iris/1", name="Not A Valid Name!")


def test_the_ledger_verifies_and_answers_what_served(facade) -> None:
    erin = facade("erin")
    report = erin.verify_audit()
    assert isinstance(report, ChainReport)
    events = erin.audit_events("deployment", limit=5)
    assert all(e.seq > 0 for e in events)


def test_register_a_model_object_as_the_bound_user(facade, request: pytest.FixtureRequest, trained_model, iris) -> None:
    # register is part of the contract: the remote client saves, packs and uploads; the service never loads it
    X_train, y_train = iris
    name = _name(facade, request, "contract-reg") + "-" + datetime.now(timezone.utc).strftime("%H%M%S%f")
    bob = facade("bob")
    version = bob.register(trained_model, name, X_train, y_train, alias="candidate", tags={"k": "v"})
    assert isinstance(version, ModelVersion) and version.version == "1" and version.aliases == ["candidate"]
    assert version.tags["mlops.registered_by"] == "bob" and version.tags["k"] == "v"
    assert version.signature is not None and "training_score" in version.metrics
    again = bob.register(f"models:/{name}/1", name)  # a URI the service can read: registered there
    assert again.version == "2" and again.tags["mlops.registered_by"] == "bob"
    with pytest.raises(InvalidRequest):
        bob.register(trained_model, "Not A Valid Name!", X_train, y_train)
