"""The facade contract: MLOps implements MLOpsAPI with the same signatures, no method takes the acting user, the
notebook API shows real parameters and docstrings, and a ledger write that fails fails the change."""

from __future__ import annotations

import inspect
import pydoc
import sqlite3

import pytest

import jupyter_mlops
from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core import api
from jupyter_mlops.core.errors import Unavailable
from jupyter_mlops.core.facade import MLOpsAPI
from jupyter_mlops.core.principal import Principal
from jupyter_mlops.core.service import MLOps

CONTRACT = sorted(name for name, member in vars(MLOpsAPI).items() if not name.startswith("_") and callable(member))


def _parameters(fn: object) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]  # type: ignore[arg-type]


def test_the_contract_names_every_operation_and_none_takes_an_actor() -> None:
    assert {"deploy", "grant", "audit_events", "health", "whoami", "close", "predict", "lineage"} <= set(CONTRACT)
    for name in CONTRACT:
        method = getattr(MLOpsAPI, name)
        assert "actor" not in inspect.signature(method).parameters, name
        assert "actor" not in inspect.signature(getattr(MLOps, name)).parameters, name
        assert (method.__doc__ or "").strip(), f"MLOpsAPI.{name} has no docstring"


@pytest.mark.parametrize("name", CONTRACT)
def test_mlops_has_the_contracts_signature(name: str) -> None:
    assert _parameters(getattr(MLOps, name)) == _parameters(getattr(MLOpsAPI, name))


def test_the_notebook_api_shows_real_parameters_and_the_contracts_docstrings() -> None:
    deploy = jupyter_mlops.deploy
    parameters = inspect.signature(deploy).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    assert {"model", "name", "target", "wait", "canary", "shadow", "batching", "isolated"} <= set(parameters)
    text = pydoc.render_doc(deploy, renderer=pydoc.plaintext)
    assert "canary: Add the version as a canary" in text and "isolated" in text
    for name in jupyter_mlops.__all__:
        fn = getattr(jupyter_mlops, name)
        if callable(fn) and name not in ("MLOpsError",):
            assert (fn.__doc__ or "").strip(), f"jupyter_mlops.{name} has no docstring"
            kinds = [p.kind for p in inspect.signature(fn).parameters.values()]
            assert inspect.Parameter.VAR_KEYWORD not in kinds, name
    # the functions that call a facade method take its parameters (the process's facade acts as its user)
    for name in ("register", "deploy", "set_traffic", "promote", "alerts", "health", "served_at"):
        assert list(inspect.signature(getattr(api, name)).parameters) == [
            p for p in inspect.signature(getattr(MLOpsAPI, name)).parameters if p != "self"
        ]


def test_the_embedded_facade_acts_as_the_process_user_by_default(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("JUPYTERHUB_USER", "hubuser")
    mlops = MLOps(MLOpsConfig(data_dir=str(tmp_path)))
    try:
        assert mlops.principal == Principal(name="hubuser") and mlops.user == "hubuser"
        assert isinstance(mlops, MLOpsAPI)
        assert MLOps(MLOpsConfig(data_dir=str(tmp_path)), "carol", store=mlops.store).principal.name == "carol"
    finally:
        mlops.close()


def test_a_ledger_write_that_fails_fails_the_change(tmp_path, mlops, trained_model, iris) -> None:
    # Given a model of its own, and a facade whose store lost its ledger table (a broken ledger)
    version = mlops.register(trained_model, "ledger-failure", iris[0].head(10))
    config = MLOpsConfig(data_dir=str(tmp_path), roles={"dave": "viewer"})
    broken = MLOps(config, "alice", registry=mlops.registry)
    try:
        with sqlite3.connect(tmp_path / "mlops.db") as connection:
            connection.execute("ALTER TABLE mlops_audit RENAME TO mlops_audit_gone")
        # When a change is made, it is reported as failed rather than made without its ledger entry
        with pytest.raises(Unavailable, match="audit ledger could not record set_alias"):
            broken.set_alias(version.name, "staging", version.version)
        # and a refusal that cannot be recorded is not silently a refusal either
        with pytest.raises(Unavailable, match="could not record"):
            broken.acting_as(Principal(name="dave")).set_alias(version.name, "x", version.version)
    finally:
        broken.close()


@pytest.mark.parametrize("name", CONTRACT)
def test_the_team_mode_client_takes_the_contracts_parameters(name: str) -> None:
    """A kernel in team mode calls ``RemoteMLOps`` with what the notebook API passes (``register(reference=...)``
    once reached it and failed with TypeError in every team kernel)."""
    from jupyter_mlops.hub.client import RemoteMLOps

    assert [p for p, _, _ in _parameters(getattr(RemoteMLOps, name))] == [
        p for p, _, _ in _parameters(getattr(MLOpsAPI, name))
    ]
