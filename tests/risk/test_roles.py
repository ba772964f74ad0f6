"""Validation is a capability of its own: deployers and approvers do not validate, a validator does.

The roles ladder (viewer < deployer < approver < admin) says who may change what; validating sits beside it, granted
only by the validator role (or the ``custom:mlops:validate`` hub scope) or admin, so the people who ship a model are
not the ones who sign off its validation (SR 11-7's independence).
"""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_mlops.core.errors import Forbidden
from jupyter_mlops.core.principal import SCOPE_APPROVE, SCOPE_DEPLOY, SCOPE_VALIDATE, Principal


def _as(risk_mlops: Any, name: str, *scopes: str) -> Any:
    return risk_mlops.acting_as(Principal(name=name, scopes=frozenset(scopes)))


def _validate_entries(risk_mlops: Any, model: str) -> list[Any]:
    return [e for e in risk_mlops.audit_events(f"model/{model}/1") if e.action == "validate"]


def test_deployers_and_approvers_cannot_validate_a_validator_can(risk_mlops: Any, scoring: Any) -> None:
    name = scoring.name
    # given a deployer by default role, a deployer by hub scope and an approver by hub scope
    for who, scopes in (("dee", ()), ("dep", (SCOPE_DEPLOY,)), ("appr", (SCOPE_APPROVE,))):
        with pytest.raises(Forbidden, match="validator role") as refused:
            _as(risk_mlops, who, *scopes).validate_version(name, "1", "approved")
        assert "may not validate" in str(refused.value)
    refusals = _validate_entries(risk_mlops, name)
    assert [(e.actor, e.outcome) for e in refusals] == [("dee", "refused"), ("dep", "refused"), ("appr", "refused")]
    assert risk_mlops.validations(name, "1") == []

    # a user who deploys and also holds the validate scope validates (the capability is not lost to a higher rung)
    both = _as(risk_mlops, "dora", SCOPE_DEPLOY, SCOPE_VALIDATE)
    assert risk_mlops.governance.role(both.principal) == "deployer"
    made = both.validate_version(name, "1", "approved")
    assert (made.validator, made.outcome) == ("dora", "approved")
    # and a validator only by scope validates, without picking up the default deployer rights
    only = _as(risk_mlops, "vera", SCOPE_VALIDATE)
    assert not risk_mlops.governance.can(only.principal, "deploy")
    assert only.validate_version(name, "1", "rejected").validator == "vera"
    assert [e.outcome for e in _validate_entries(risk_mlops, name)][-2:] == ["ok", "ok"]
