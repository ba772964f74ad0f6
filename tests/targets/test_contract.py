"""The Target contract, one suite run against every target: create/get/list/update/delete (idempotent)/predict,
traffic split and rollback, status. Each test is the same for the local serving daemon (real process), KServe
(real kubernetes client against a FAKE API server: no cluster can run here) and Ray Serve (a real local Ray
cluster, one per session; only with MLOPS_TEST_RAY=1, the `make test-ray` line)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from jupyter_mlops.core.errors import NotFound
from jupyter_mlops.core.models import DeploymentState
from jupyter_mlops.core.targets import Target

from .conftest import NO_RAY, RAY_ENABLED

pytestmark = pytest.mark.slow

TARGETS = ["local", "kserve", pytest.param("ray", marks=pytest.mark.skipif(not RAY_ENABLED, reason=NO_RAY))]


@pytest.fixture(params=TARGETS)
def target_name(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def _endpoints(installation) -> Iterator[dict[str, str]]:
    """One deployment per target for the module (a Ray Serve application costs seconds of replica start-up per
    deploy); removed at the end of the module."""
    deployed: dict[str, str] = {}
    yield deployed
    for name in deployed.values():
        installation.mlops.undeploy(name)


@pytest.fixture
def endpoint(installation, target_name, _endpoints) -> str:
    """A deployment of iris v1 alone on the target under test, ready: the module's one for the target, deployed
    again from scratch when a test left it in any other state."""
    mlops = installation.mlops
    name = _endpoints.setdefault(target_name, f"contract-{target_name}")
    try:
        current = mlops.deployment(name)
    except NotFound:
        current = None
    as_new = (
        current is not None
        and current.state == DeploymentState.ready
        and [(v.role.value, v.model_version, v.weight) for v in current.variants] == [("primary", "1", 100)]
    )
    if not as_new:
        if current is not None:
            mlops.undeploy(name)
        mlops.deploy("iris/1", name, target=target_name)
    return name


def _predict(mlops, name, X) -> list:
    return mlops.predict(name, X.head(12))


def test_create_is_ready_with_status_and_listed(installation, target_name, endpoint, iris, trained_model) -> None:
    mlops = installation.mlops
    target: Target = mlops.target(target_name)
    X, _ = iris
    status = target.status(endpoint)
    assert status is not None and status.state == DeploymentState.ready
    assert status.generation == mlops.store.generation(endpoint)
    assert status.url
    assert endpoint in target.statuses()
    assert mlops.deployment(endpoint).state == DeploymentState.ready
    assert _predict(mlops, endpoint, X) == trained_model.predict(X.head(12)).tolist()


def test_apply_is_idempotent(installation, target_name, endpoint) -> None:
    target = installation.mlops.target(target_name)
    generation = installation.mlops.store.generation(endpoint)
    target.apply(endpoint)
    target.apply(endpoint)
    assert target.wait_ready(endpoint, 30).generation == generation


def test_update_serves_the_new_version_then_rollback(installation, target_name, endpoint, iris, trained_model) -> None:
    mlops = installation.mlops
    X, _ = iris
    before = mlops.store.generation(endpoint)
    updated = mlops.deploy("iris/2", endpoint, target=target_name, replace=True)
    assert updated.state == DeploymentState.ready and updated.model_version == "2"
    assert mlops.store.generation(endpoint) > before
    assert _predict(mlops, endpoint, X) == [2] * 12
    rolled = mlops.rollback(endpoint)
    assert rolled.model_version == "1"
    assert _predict(mlops, endpoint, X) == trained_model.predict(X.head(12)).tolist()


def test_traffic_split_moves_traffic_and_rollback_drops_the_canary(
    installation, target_name, endpoint, iris, trained_model
) -> None:
    mlops = installation.mlops
    X, _ = iris
    mlops.deploy("iris/2", endpoint, target=target_name, canary=0)
    # all traffic to the canary (KServe: canaryTrafficPercent 100 on the canary's revision)
    split = mlops.set_traffic(endpoint, {"primary": 0, "canary": 100})
    assert {v.role.value: v.weight for v in split.variants} == {"primary": 0, "canary": 100}
    assert _predict(mlops, endpoint, X) == [2] * 12
    mlops.rollback(endpoint)
    assert [v.role.value for v in mlops.deployment(endpoint).variants] == ["primary"]
    assert _predict(mlops, endpoint, X) == trained_model.predict(X.head(12)).tolist()


def test_bad_request_is_answered_4xx_not_raised(installation, target_name, endpoint) -> None:
    target = installation.mlops.target(target_name)
    status, _headers, body = target.invoke(endpoint, b'{"no_such_format": 1}', "application/json")
    assert 400 <= status < 500
    assert "message" in json.loads(body)


def test_delete_is_idempotent(installation, target_name, iris) -> None:
    mlops = installation.mlops
    target = mlops.target(target_name)
    name = f"gone-{target_name}"
    mlops.deploy("iris/1", name, target=target_name)
    assert mlops.undeploy(name) is True
    assert target.status(name) is None or target.status(name).state == DeploymentState.stopped
    assert name not in target.statuses()
    target.remove(name)  # again: not an error
    target.remove("never-existed")
    assert mlops.undeploy(name) is False
    with pytest.raises(NotFound):
        target.wait_ready(name, 5)
