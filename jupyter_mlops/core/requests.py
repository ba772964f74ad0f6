"""Request bodies of the REST API, parsed into models at the boundary (``DeploymentSpec`` is the deploy body).

A door parses the body into one of these and calls the facade with its fields; the facade checks the values
(names, weights, rules) with the messages users know. Unknown keys are ignored here, as they always were, except in
feedback items, whose two keys are the contract.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AliasRequest(_Body):
    """``PUT /models/{name}/aliases/{alias}``: the version the alias points at."""

    version: StrictStr | int


class ReferenceTable(_Body):
    """A labelled reference set in MLflow's ``dataframe_split`` layout: column names and rows (one holds labels)."""

    columns: list[StrictStr]
    data: list[list[Any]]


class RegisterRequest(_Body):
    """``POST /models/{name}/versions``: register a ``runs:/``/``models:/`` URI, optionally with a reference set."""

    uri: StrictStr
    alias: StrictStr | None = None
    description: StrictStr | None = None
    reference: ReferenceTable | None = None
    label_column: StrictStr | None = None


class TrafficRequest(_Body):
    """``PUT /deployments/{name}/traffic``: weights by variant name or role (checked by the facade)."""

    weights: dict[str, Any]


class FeedbackItem(BaseModel):
    """One ground-truth label for one logged request."""

    model_config = ConfigDict(extra="forbid")

    request_id: Any
    label: Any


class FeedbackRequest(_Body):
    """``POST /deployments/{name}/feedback``: labels for logged requests."""

    items: list[FeedbackItem]


class AlertRulesRequest(_Body):
    """``PUT /deployments/{name}/alert-rules``: the deployment's own rules (each checked by the facade)."""

    rules: list[Any]


class ApprovalRequest(_Body):
    """``POST /approvals``: a request for a protected change."""

    action: StrictStr
    target: StrictStr
    payload: dict[str, Any] = {}


class DecisionRequest(_Body):
    """``POST /approvals/{id}/grant|reject``: an optional comment."""

    comment: StrictStr | None = None
