"""Model risk fixtures: an installation of its own with validators, an admin and validation-protected deployments."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jupyter_mlops.config import MLOpsConfig

from ..server.conftest import api  # noqa: F401 - the /mlops/api caller of the server tests

ROLES = {"vic": "validator", "val": "validator", "ada": "admin", "rita": "viewer"}


@pytest.fixture(scope="package")
def risk_config(tmp_path_factory: pytest.TempPathFactory) -> MLOpsConfig:
    """Settings: validators vic and val, admin ada, deployments named *-validated need an approved validation."""
    return MLOpsConfig(
        data_dir=str(tmp_path_factory.mktemp("mlops-risk")),
        roles=ROLES,
        require_validation_for=["*-validated"],
    )


@pytest.fixture(scope="package")
def risk_mlops(risk_config: MLOpsConfig) -> Iterator[Any]:
    """The facade of that installation acting as ``tester`` (the registrant); its daemon is stopped at the end."""
    from jupyter_mlops.core.service import MLOps
    from jupyter_mlops.core.targets.local import LocalTarget

    service = MLOps(risk_config, user="tester")
    yield service
    LocalTarget(risk_config, service.store).stop_daemon()
    service.close()


@pytest.fixture(scope="package")
def as_user(risk_mlops: Any) -> Callable[[str], Any]:
    """The installation's facade acting as another authenticated user (as the REST door builds it)."""
    from jupyter_mlops.core.principal import Principal

    return lambda name: risk_mlops.acting_as(Principal(name=name))


@pytest.fixture(scope="package")
def credit(risk_mlops: Any, trained_model: Any, iris: Any) -> Any:
    """Version 1 of ``credit``, registered by ``tester`` with training data (fingerprint, metrics, baseline)."""
    X, y = iris
    return risk_mlops.register(trained_model, "credit", X, y, description="Credit default scoring (toy data).")


@pytest.fixture(scope="module")
def scoring(risk_mlops: Any, trained_model: Any, iris: Any, request: pytest.FixtureRequest) -> Any:
    """Version 1 of a model of the test module's own (``scoring-<module>``), registered by ``tester``."""
    X, y = iris
    name = "scoring-" + request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")
    return risk_mlops.register(trained_model, name, X, y)
