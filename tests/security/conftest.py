"""Security fixtures: the serving suite's real daemon, MLflow store and models, plus protected deployments.

Imported from ``tests/serving/conftest.py`` (same session-scoped daemon pattern: a daemon of this package's own on
its own data dir, stopped at the end).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from jupyter_mlops.core.governance.tokens import DeploymentTokens
from jupyter_mlops.core.models import Variant
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.local import LocalTarget
from tests.serving.conftest import (  # noqa: F401 - fixtures
    MODEL_NAME,
    constant_model,
    daemon_url,
    http,
    local_target,
    mlflow_store,
    registered_model,
    serving_config,
    serving_daemon,
    store,
    undeploy,
)

MAX_ROWS = 20


@dataclass(frozen=True)
class Protected:
    """Deployments of the security suite: ``open`` has no token; ``locked`` and ``isolated`` require ``token``."""

    url: str
    admin: str
    token: str


@pytest.fixture(scope="session")
def protected(store: Store, local_target: LocalTarget, serving_daemon, registered_model) -> Iterator[Protected]:  # noqa: F811
    """sec-open (no token), sec-locked and sec-iso (isolated worker), both with a token; max_rows 20 everywhere."""
    tokens = DeploymentTokens(store)
    token = ""
    names = {"sec-open": {}, "sec-locked": {}, "sec-iso": {"isolated": True}}
    for name, extra in names.items():
        store.create_deployment(
            name, owner="tester", target="local", model_ref=f"{MODEL_NAME}/1",
            variants=[Variant(model_name=MODEL_NAME, model_version="1")], config={"max_rows": MAX_ROWS, **extra},
        )  # fmt: skip
        if name != "sec-open":
            token = tokens.issue(name) if not token else _same_token(store, name, token)
        local_target.apply(name)
    for name in names:
        local_target.wait_ready(name, 120)
    info = local_target.running_daemon()
    assert info is not None
    yield Protected(daemon_url(local_target), info.token, token)
    for name in names:
        undeploy(store, local_target, name)


def _same_token(store: Store, name: str, token: str) -> str:  # noqa: F811
    """Give ``name`` the same token as the first protected deployment (one token to pass in the table)."""
    from jupyter_mlops.core.governance.tokens import token_hash
    from jupyter_mlops.core.store.governance_tables import DeploymentTokenRow

    with store.session() as s:
        s.add(DeploymentTokenRow(name=name, token_hash=token_hash(token), created_at="2026-01-01T00:00:00Z"))
        s.commit()
    return token
