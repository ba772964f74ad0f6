"""The notebook API: module-level functions on one shared ``MLOps`` built from the process's settings.

Each function has the parameters of the facade method it calls, and that method's docstring from the contract
(``core/facade.py``), so ``jupyter_mlops.deploy?`` and ``help(jupyter_mlops.deploy)`` show both. The shared facade
acts as the process's user; nothing here takes the acting user as an argument.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from .deployments.config import DeploymentSettings
from .facade import MLOpsAPI
from .governance.audit import AuditEvent, ChainReport, ServedAt
from .governance.cards import LineageChain, ModelCard
from .governance.policy import Approval
from .governance.risk import InventoryEntry, Retention, ReviewAlert, RiskSummary, Validation
from .models import Deployment, ModelVersion, Page, RegisteredModel, RolloutEvent
from .monitoring.models import Alert, AlertRule, Health, WhoAmI
from .service import MLOps

if TYPE_CHECKING:
    from .monitoring.report import MonitoringReport
    from .targets.base import ProgressCallback

F = TypeVar("F", bound=Callable[..., Any])

_default: MLOps | None = None
_lock = threading.Lock()


def _documented_by(method: Callable[..., Any]) -> Callable[[F], F]:
    """Give a notebook function the docstring of the facade method it calls (one source for both)."""

    def decorate(fn: F) -> F:
        fn.__doc__ = method.__doc__
        return fn

    return decorate


def client() -> MLOps:
    """The process-wide MLOps facade (created on first use from MLOpsConfig and JUPYTER_MLOPS_* variables)."""
    global _default
    with _lock:
        if _default is None:
            _default = _build_client()
        return _default


def _build_client() -> MLOps:
    """The embedded facade, or in team mode (``service_url`` set) the MLOps hub service's client.

    The client acts with this user's hub token and holds no store credentials (same interface, ``MLOpsAPI``).
    """
    from ..config import MLOpsConfig

    config = MLOpsConfig()
    if config.service_url:
        from ..hub.client import RemoteMLOps

        return RemoteMLOps.from_config(config)  # type: ignore[return-value]
    return MLOps(config)


def reset_client(mlops: MLOps | None = None) -> None:
    """Replace the shared facade (tests and notebooks that change settings at run time)."""
    global _default
    with _lock:
        if _default is not None and _default is not mlops:
            _default.close()
        _default = mlops


@_documented_by(MLOpsAPI.register)
def register(
    model: Any,
    name: str,
    X: Any = None,
    y: Any = None,
    *,
    alias: str | None = None,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    notebook: str | None = None,
    reference: Any = None,
) -> ModelVersion:
    return client().register(
        model, name, X, y, alias=alias, description=description, tags=tags, params=params, metrics=metrics,
        notebook=notebook, reference=reference,
    )  # fmt: skip


@_documented_by(MLOpsAPI.models)
def models(filter: str | None = None, max_results: int = 50, page_token: str | None = None) -> Page:
    return client().models(filter, max_results=max_results, page_token=page_token)


@_documented_by(MLOpsAPI.model)
def model(name: str) -> RegisteredModel:
    return client().model(name)


@_documented_by(MLOpsAPI.versions)
def versions(name: str) -> list[ModelVersion]:
    return client().versions(name)


@_documented_by(MLOpsAPI.version)
def version(name: str, version: str) -> ModelVersion:
    return client().version(name, version)


@_documented_by(MLOpsAPI.set_alias)
def set_alias(name: str, alias: str, version: str | int) -> ModelVersion:
    return client().set_alias(name, alias, version)


@_documented_by(MLOpsAPI.delete_alias)
def delete_alias(name: str, alias: str) -> None:
    client().delete_alias(name, alias)


@_documented_by(MLOpsAPI.deploy)
def deploy(
    model: str,
    name: str | None = None,
    *,
    target: str | None = None,
    wait: bool = True,
    replace: bool = False,
    on_progress: ProgressCallback | None = None,
    canary: int | None = None,
    shadow: bool = False,
    batching: dict[str, Any] | None = None,
    isolated: bool = False,
    settings: dict[str, Any] | None = None,
) -> Deployment:
    return client().deploy(
        model, name, target=target, wait=wait, replace=replace, on_progress=on_progress, canary=canary,
        shadow=shadow, batching=batching, isolated=isolated, settings=settings,
    )  # fmt: skip


@_documented_by(MLOpsAPI.configure)
def configure(
    name: str,
    *,
    timeout_ms: int | None = None,
    max_queue: int | None = None,
    max_rows: int | None = None,
    batching: dict[str, Any] | None = None,
    auto_rollback: bool | dict[str, Any] | None = None,
    monitoring: dict[str, Any] | None = None,
) -> DeploymentSettings:
    return client().configure(
        name, timeout_ms=timeout_ms, max_queue=max_queue, max_rows=max_rows, batching=batching,
        auto_rollback=auto_rollback, monitoring=monitoring,
    )  # fmt: skip


@_documented_by(MLOpsAPI.deployments)
def deployments(owner: str | None = None) -> list[Deployment]:
    return client().deployments(owner)


@_documented_by(MLOpsAPI.deployment)
def deployment(name: str) -> Deployment:
    return client().deployment(name)


@_documented_by(MLOpsAPI.predict)
def predict(name: str, data: Any, params: dict[str, Any] | None = None) -> Any:
    return client().predict(name, data, params)


@_documented_by(MLOpsAPI.undeploy)
def undeploy(name: str) -> bool:
    return client().undeploy(name)


@_documented_by(MLOpsAPI.set_traffic)
def set_traffic(name: str, weights: dict[str, int], *, wait: bool = True) -> Deployment:
    return client().set_traffic(name, weights, wait=wait)


@_documented_by(MLOpsAPI.promote)
def promote(name: str, *, wait: bool = True) -> Deployment:
    return client().promote(name, wait=wait)


@_documented_by(MLOpsAPI.rollback)
def rollback(name: str, *, wait: bool = True) -> Deployment:
    return client().rollback(name, wait=wait)


@_documented_by(MLOpsAPI.sync)
def sync(name: str, *, wait: bool = True) -> Deployment:
    return client().sync(name, wait=wait)


@_documented_by(MLOpsAPI.events)
def events(name: str, limit: int = 100) -> list[RolloutEvent]:
    return client().events(name, limit)


# --- monitoring -------------------------------------------------------------------------------------------------


@_documented_by(MLOpsAPI.monitor)
def monitor(name: str, window: str | float = "1h") -> MonitoringReport:
    return client().monitor(name, window)


@_documented_by(MLOpsAPI.feedback)
def feedback(name: str, request_ids: Any, labels: Any) -> dict[str, Any]:
    return client().feedback(name, request_ids, labels)


@_documented_by(MLOpsAPI.alerts)
def alerts(name: str | None = None) -> list[Alert]:
    return client().alerts(name)


@_documented_by(MLOpsAPI.acknowledge_alert)
def acknowledge_alert(alert_id: int) -> Alert:
    return client().acknowledge_alert(alert_id)


@_documented_by(MLOpsAPI.alert_rules)
def alert_rules(name: str, rules: list[dict[str, Any]] | None = None) -> list[AlertRule]:
    return client().alert_rules(name, rules)


@_documented_by(MLOpsAPI.health)
def health(name: str | None = None, window: str | float = "1h") -> Health:
    return client().health(name, window)


# --- governance ---------------------------------------------------------------------------------------------------


@_documented_by(MLOpsAPI.audit_events)
def audit(
    target: str | None = None,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    by: str | None = None,
    limit: int = 1000,
) -> list[AuditEvent]:
    return client().audit_events(target, since=since, until=until, by=by, limit=limit)


@_documented_by(MLOpsAPI.export_audit)
def export_audit(
    target: str | None = None,
    *,
    format: str = "json",
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> str:
    return client().export_audit(target, format=format, since=since, until=until)


@_documented_by(MLOpsAPI.verify_audit)
def verify_audit() -> ChainReport:
    return client().verify_audit()


@_documented_by(MLOpsAPI.served_at)
def served_at(deployment: str, at: datetime | str) -> ServedAt:
    return client().served_at(deployment, at)


@_documented_by(MLOpsAPI.whoami)
def whoami() -> WhoAmI:
    return client().whoami()


@_documented_by(MLOpsAPI.request_approval)
def request_approval(action: str, target: str, payload: dict[str, Any] | None = None) -> Approval:
    return client().request_approval(action, target, payload)


@_documented_by(MLOpsAPI.approvals)
def approvals(status: str | None = None) -> list[Approval]:
    return client().approvals(status)


@_documented_by(MLOpsAPI.grant)
def grant(approval_id: int, comment: str | None = None) -> Approval:
    return client().grant(approval_id, comment=comment)


@_documented_by(MLOpsAPI.reject)
def reject(approval_id: int, comment: str | None = None) -> Approval:
    return client().reject(approval_id, comment=comment)


@_documented_by(MLOpsAPI.card)
def card(name: str, version: str | None = None) -> ModelCard:
    return client().card(name, version)


def update_card(
    name: str, version: str, *, intended_use: str | None = None, limitations: str | None = None
) -> ModelCard:
    """Write the human sections of a version's model card and store it with the version.

    Args:
        name: The registered model.
        version: The version whose card to edit.
        intended_use: What the model is for (kept when None).
        limitations: Where it must not be used (kept when None).
    """
    sections = {k: v for k, v in {"intended_use": intended_use, "limitations": limitations}.items() if v is not None}
    return client().update_card(name, version, sections)


@_documented_by(MLOpsAPI.lineage)
def lineage(subject: str) -> LineageChain:
    return client().lineage(subject)


@_documented_by(MLOpsAPI.issue_token)
def issue_token(name: str) -> str:
    return client().issue_token(name)


# --- model risk management (issue 17) ---------------------------------------------------------------------------


@_documented_by(MLOpsAPI.inventory)
def inventory(name: str, version: str | None = None) -> InventoryEntry:
    return client().inventory(name, version)


@_documented_by(MLOpsAPI.set_inventory)
def set_inventory(name: str, fields: dict[str, Any], version: str | None = None) -> InventoryEntry:
    return client().set_inventory(name, fields, version)


@_documented_by(MLOpsAPI.validate_version)
def validate_version(
    name: str,
    version: str,
    outcome: str,
    *,
    findings: list[dict[str, Any]] | None = None,
    evidence: list[str] | None = None,
    comment: str | None = None,
) -> Validation:
    return client().validate_version(name, version, outcome, findings=findings, evidence=evidence, comment=comment)


@_documented_by(MLOpsAPI.validations)
def validations(name: str, version: str | None = None) -> list[Validation]:
    return client().validations(name, version)


@_documented_by(MLOpsAPI.check_reviews)
def check_reviews() -> list[ReviewAlert]:
    return client().check_reviews()


@_documented_by(MLOpsAPI.risk_summary)
def risk_summary() -> RiskSummary:
    return client().risk_summary()


@_documented_by(MLOpsAPI.set_retention)
def set_retention(
    deployment: str, *, inference_log_days: float | None = None, ledger_days: float | None = None,
    override: bool = False,
) -> Retention:  # fmt: skip
    return client().set_retention(
        deployment, inference_log_days=inference_log_days, ledger_days=ledger_days, override=override
    )


@_documented_by(MLOpsAPI.inventory_report)
def inventory_report(as_of: date | str | None = None, format: str = "csv") -> bytes:
    return client().inventory_report(as_of, format)


@_documented_by(MLOpsAPI.technical_documentation)
def technical_documentation(name: str, version: str, format: str = "md") -> bytes:
    return client().technical_documentation(name, version, format)


@_documented_by(MLOpsAPI.logging_evidence)
def logging_evidence(deployment: str, start: datetime | str, end: datetime | str, format: str = "json") -> bytes:
    return client().logging_evidence(deployment, start, end, format)
