"""Governance fixtures: several users' facades over the session's stores and its one serving daemon."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jupyter_mlops.config import MLOpsConfig

from ..server.conftest import api  # noqa: F401 - the /mlops/api caller of the server tests


@pytest.fixture(scope="package")
def gov_config(tmp_path_factory: pytest.TempPathFactory) -> MLOpsConfig:
    """An installation of its own, so the models registered here never show in other suites' catalogs."""
    return MLOpsConfig(data_dir=str(tmp_path_factory.mktemp("mlops-governance")))


@pytest.fixture(scope="package")
def gov_mlops(gov_config: MLOpsConfig) -> Iterator[object]:
    """The facade of that installation; its serving daemon is stopped when the governance tests end."""
    from jupyter_mlops.core.service import MLOps
    from jupyter_mlops.core.targets.local import LocalTarget

    service = MLOps(gov_config, user="tester")
    yield service
    LocalTarget(gov_config, service.store).stop_daemon()
    service.close()


@pytest.fixture(scope="package")
def gov_iris(gov_mlops, trained_model, iris):
    """Version 1 of ``iris`` in the governance installation."""
    X, y = iris
    return gov_mlops.register(trained_model, "iris", X, y)


@pytest.fixture(scope="module")
def governed_config(gov_config: MLOpsConfig) -> MLOpsConfig:
    """Settings of a hub-like installation: isolation on, roles, protected alias and deployments."""
    return MLOpsConfig(
        data_dir=gov_config.data_dir,
        roles={"carol": "approver", "dave": "viewer", "erin": "admin", "group:reviewers": "approver"},
        protected_aliases=["production"],
        protected_deployments=["*-prod"],
        isolate_users=True,
    )


@pytest.fixture(scope="module")
def server_of(gov_mlops, governed_config: MLOpsConfig) -> Callable[[str], object]:
    """The MLOps facade of one user's Jupyter server (``server_of("alice")``), sharing stores and daemon.

    Facades are not closed here: they share the session's store and targets, which ``gov_mlops`` closes.
    """
    from jupyter_mlops.core.service import MLOps

    built: dict[str, MLOps] = {}

    def make(owner: str) -> MLOps:
        if owner not in built:
            built[owner] = MLOps(
                governed_config,
                user=owner,
                registry=gov_mlops.registry,
                store=gov_mlops.store,
                targets=gov_mlops.targets,
            )
        return built[owner]

    return make


@pytest.fixture
def _restore_settings_env() -> Any:
    """The extension exports its settings to os.environ for kernels; keep them from leaking into later suites."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("JUPYTER_MLOPS_")}
    yield
    for key in [k for k in os.environ if k.startswith("JUPYTER_MLOPS_")]:
        del os.environ[key]
    os.environ.update(saved)
