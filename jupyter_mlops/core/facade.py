"""MLOpsAPI: the one typed contract every implementation of the facade honours.

Two implementations stand behind it: the embedded ``MLOps`` (``core/service.py``, which talks to MLflow, the store
and the serving targets in this process) and, in team mode, an HTTP client of the MLOps hub service. Doors (the
notebook API, magics, widgets, REST handlers, the CLI) depend on this contract only.

No method takes the acting user: the principal is bound to the facade instance by its door (the process's user in
a kernel, the authenticated user per REST request, the hub token's user in the hub service). Errors are
``MLOpsError`` subclasses carrying an HTTP status: ``InvalidRequest`` (400), ``Forbidden`` (403, recorded in the
audit ledger), ``NotFound`` (404), ``Conflict`` (409), ``Unavailable`` (503).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .deployments.config import DeploymentSettings
from .governance.audit import AuditEvent, ChainReport, ServedAt
from .governance.cards import LineageChain, ModelCard
from .governance.policy import Approval
from .governance.risk import InventoryEntry, Retention, ReviewAlert, RiskSummary, Validation
from .models import Deployment, ModelVersion, Page, RegisteredModel, RolloutEvent
from .monitoring.models import Alert, AlertRule, Health, WhoAmI
from .principal import Principal

if TYPE_CHECKING:  # pandas is heavy: the report's module is imported only where it is used
    from .monitoring.report import MonitoringReport
    from .targets.base import ProgressCallback


@runtime_checkable
class MLOpsAPI(Protocol):
    """Register, catalog, deploy, roll out, monitor and govern models, acting as one bound principal."""

    @property
    def principal(self) -> Principal:
        """Who this facade acts as (bound by its door; every ledger entry it writes names this principal)."""
        ...

    # --- registry -----------------------------------------------------------------------------------------------

    def register(
        self,
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
        """Register a model as a new version of ``name`` in the MLflow registry.

        Args:
            model: An in-memory model (scikit-learn estimator, ``mlflow.pyfunc.PythonModel``, callable) or a
                ``runs:/`` / ``models:/`` URI.
            name: The registered model's name; created if it does not exist.
            X: Training features. With X the signature is inferred from X and the model's predictions, its first
                rows become the input example deployments warm up on, and a training profile is stored as the
                drift baseline.
            y: Training labels; with X, the model's training score is logged as a metric.
            alias: An alias (e.g. ``"champion"``) to point at the new version (a protected alias needs approval).
            description: The version's description.
            tags: Extra version tags (lineage tags are added automatically).
            params: Extra run parameters (an estimator's ``get_params`` are logged anyway).
            metrics: Extra run metrics.
            notebook: The notebook path to record (default: the kernel's session name).
            reference: A labelled reference set ``(X_ref, y_ref)``: held-out rows the model did not train on,
                with the model's input columns and their true labels. Stored with the version
                (``mlops/reference.parquet``), it lets monitoring estimate performance without live labels
                (``monitor(name).estimated_performance``). Without it, estimates are reported unavailable.

        Returns:
            The new version.

        Raises:
            InvalidRequest: A bad name or alias, a model that fails to predict on X, or a reference whose columns
                differ from the model's (named), that has no labels, or that is made of training rows.
            Forbidden: The principal's role may not register.
        """
        ...

    def models(self, filter: str | None = None, max_results: int = 50, page_token: str | None = None) -> Page:
        """List registered models, one page at a time.

        Args:
            filter: A substring of the model name (case-insensitive), or None for all.
            max_results: Page size, 1 to 1000.
            page_token: The ``next_page_token`` of the previous page.

        Returns:
            A page of ``RegisteredModel`` with ``next_page_token`` (None on the last page).
        """
        ...

    def model(self, name: str) -> RegisteredModel:
        """One registered model with its aliases and latest versions.

        Raises:
            NotFound: No model of that name.
        """
        ...

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of a registered model, newest first.

        Raises:
            NotFound: No model of that name.
        """
        ...

    def version(self, name: str, version: str) -> ModelVersion:
        """One version of a registered model, with its signature, metrics and lineage tags.

        Raises:
            NotFound: No such model or version.
        """
        ...

    def set_alias(self, name: str, alias: str, version: str | int) -> ModelVersion:
        """Point ``alias`` of model ``name`` at ``version`` (recorded in the ledger, before and after).

        A protected alias (``MLOpsConfig.protected_aliases``) moves only with a granted approval for exactly this
        version, which the move uses up.

        Returns:
            The version the alias now points at.

        Raises:
            Forbidden: The role may not move aliases, or the alias is protected and no approval was granted.
        """
        ...

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias from a model (idempotent; recorded in the ledger)."""
        ...

    # --- deployments --------------------------------------------------------------------------------------------

    def deploy(
        self,
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
        """Deploy ``NAME``, ``NAME/VERSION`` or ``NAME@ALIAS`` as a live endpoint.

        The reference is resolved once to a pinned version (a deployment of ``NAME@ALIAS`` follows the alias
        through ``sync``). Onto an existing deployment, ``canary`` or ``shadow`` add a variant and ``replace``
        swaps the primary without downtime (the old one is remembered for ``rollback``).

        Args:
            model: The model reference.
            name: The deployment name (default: derived from the model name).
            target: The serving target (default: ``MLOpsConfig.default_target``, usually ``"local"``).
            wait: Block until the deployment is ready (or raise naming the failed step); otherwise return at once
                and watch ``steps``.
            replace: Replace the model of an existing deployment of that name.
            on_progress: Called with each ``RuntimeStatus`` while waiting.
            canary: Add the version as a canary taking this percentage of traffic (0-100).
            shadow: Add the version as a shadow that gets a mirrored copy of every request.
            batching: Micro-batching settings ``{"max_batch_size", "max_wait_ms", "enabled"}``.
            isolated: Serve from a supervised worker process of its own (local target).
            settings: Deployment settings (as for ``configure``): ``timeout_ms``, ``max_queue``, ``max_rows``,
                ``batching``, ``auto_rollback`` (bool or object), ``monitoring`` (drift statistics, thresholds,
                ``drift_share``).

        Returns:
            The deployment with its state and steps.

        Raises:
            NotFound: The model or version does not exist.
            Conflict: A deployment of that name exists and neither ``replace``, ``canary`` nor ``shadow`` was given.
            Forbidden: The role may not deploy, the deployment belongs to someone else, or it is protected and
                needs an approval.
            DeploymentFailed: ``wait`` and a step failed.
        """
        ...

    def configure(
        self,
        name: str,
        *,
        timeout_ms: int | None = None,
        max_queue: int | None = None,
        max_rows: int | None = None,
        batching: dict[str, Any] | None = None,
        auto_rollback: bool | dict[str, Any] | None = None,
        monitoring: dict[str, Any] | None = None,
    ) -> DeploymentSettings:
        """Change a deployment's settings (audited); with no changes, read them.

        Blocks until the serving target serves with the new settings (a new generation, models kept loaded, no
        downtime); monitoring settings apply from the next report and alert evaluation.

        Args:
            name: The deployment.
            timeout_ms: Per-request model call timeout (1-600000).
            max_queue: Requests waiting beyond this many answer 503 (1-100000).
            max_rows: Requests with more rows answer 400 (>= 1).
            batching: ``{"enabled", "max_batch_size", "max_wait_ms"}``, merged into the current ones.
            auto_rollback: On or off, or ``{"enabled", "window", "min_requests", "error_rate_margin",
                "p95_margin_ms"}``.
            monitoring: ``{"numeric_statistic", "categorical_statistic", "thresholds", "drift_share",
                "correction"}`` (see ``core/monitoring/drift.py``), merged into the current ones.

        Returns:
            The deployment's settings after the change.

        Raises:
            InvalidRequest: An unknown setting or a value out of range (the message names it).
            NotFound: No deployment of that name.
            Forbidden: The principal may not change it.
        """
        ...

    def deployments(self, owner: str | None = None) -> list[Deployment]:
        """Deployments the principal may see (under a hub: their own and those granted), with runtime state.

        Args:
            owner: Only deployments of this owner.
        """
        ...

    def deployment(self, name: str) -> Deployment:
        """One deployment with its desired state merged with what its target reports.

        Raises:
            NotFound: No deployment of that name.
            Forbidden: It belongs to another user the principal may not act for.
        """
        ...

    def undeploy(self, name: str) -> bool:
        """Stop and forget a deployment and revoke its token.

        Returns:
            True if it existed, False if there was none (undeploy is idempotent).
        """
        ...

    def invoke(
        self, name: str, body: bytes, content_type: str = "application/json"
    ) -> tuple[int, dict[str, str], bytes]:
        """Send a raw scoring request to a deployment; returns the endpoint's status, headers and body as is."""
        ...

    def predict(self, name: str, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Score ``data`` (DataFrame, array, list or dict) with a deployment and return its predictions.

        Raises:
            InvalidRequest: The endpoint refused the input (its message says why).
            Unavailable: The endpoint is not serving.
        """
        ...

    def set_traffic(self, name: str, weights: dict[str, int], *, wait: bool = True) -> Deployment:
        """Set traffic weights by variant name or role, e.g. ``{"primary": 80, "canary": 20}`` (summing to 100).

        On a protected deployment the change needs an approval for exactly the proposed split.
        """
        ...

    def promote(self, name: str, *, wait: bool = True) -> Deployment:
        """Make the canary (or the shadow, without a canary) the primary at 100%.

        The old primary is remembered for ``rollback``; nothing is reloaded, the promoted version is already warm.
        """
        ...

    def rollback(self, name: str, *, wait: bool = True) -> Deployment:
        """Undo the last rollout step: drop the canary if there is one, else return to the previous primary.

        Not protected by default; where it is, an admin may still roll back (recorded as an emergency).
        """
        ...

    def sync(self, name: str, *, wait: bool = True) -> Deployment:
        """Re-resolve an alias-driven deployment (deployed as ``NAME@ALIAS``) and redeploy if the alias moved.

        Raises:
            InvalidRequest: The deployment is pinned to one version.
        """
        ...

    def events(self, name: str, limit: int = 100) -> list[RolloutEvent]:
        """Rollout history of a deployment, oldest first, including automatic rollbacks with their reasons."""
        ...

    # --- governance ---------------------------------------------------------------------------------------------

    def audit_events(
        self,
        target: str | None = None,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        by: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """Audit ledger entries, oldest first.

        Args:
            target: ``deployment/NAME`` or ``model/NAME`` (entries on it and below it), or None for all.
            since: Only entries at or after this time (ISO text or datetime).
            until: Only entries before this time.
            by: Only entries of this acting user.
            limit: At most this many entries (1 to 100000).
        """
        ...

    def export_audit(
        self,
        target: str | None = None,
        *,
        format: str = "json",
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> str:
        """The ledger (or the part of it on ``target``) as ``json`` or ``csv`` text, for an auditor."""
        ...

    def verify_audit(self) -> ChainReport:
        """Recompute the ledger's hash chain; the report names the first entry edited, removed or inserted."""
        ...

    def served_at(self, deployment: str, at: datetime | str) -> ServedAt:
        """Which model version served ``deployment`` at time ``at`` (ISO text or datetime), from the ledger."""
        ...

    def whoami(self) -> WhoAmI:
        """The acting principal, the owner of what this facade creates, and the principal's role."""
        ...

    def request_approval(self, action: str, target: str, payload: dict[str, Any] | None = None) -> Approval:
        """Ask for a protected change; the request carries the candidate's metrics, its baseline and schema diff.

        Args:
            action: ``set_alias``, ``deploy``, ``promote``, ``set_traffic``, ``sync`` or ``rollback``.
            target: ``model/NAME@ALIAS`` for ``set_alias``, else ``deployment/NAME``.
            payload: ``{"version": V}`` for ``set_alias``; ``{"model": "NAME/VERSION"}`` for ``deploy``;
                ``{"weights": {...}}`` for ``set_traffic``; nothing for the other rollout actions, which are
                approved for exactly the serving state they propose.
        """
        ...

    def approvals(self, status: str | None = None) -> list[Approval]:
        """Approval requests, newest first (``status``: pending, granted, rejected or used)."""
        ...

    def grant(self, approval_id: int, *, comment: str | None = None) -> Approval:
        """Grant a pending request; the change may then be made once.

        Raises:
            Forbidden: The principal is not an approver or admin, or requested it themselves.
            Conflict: The request was already decided.
        """
        ...

    def reject(self, approval_id: int, *, comment: str | None = None) -> Approval:
        """Reject a pending request (approver or admin, not the requester)."""
        ...

    def issue_token(self, name: str) -> str:
        """A new bearer token for a deployment's endpoint; the previous one stops working. Shown only now."""
        ...

    def lineage(self, subject: str) -> LineageChain:
        """The chain deployment -> version -> run -> notebook/commit, for a deployment name or ``NAME[/VERSION]``."""
        ...

    def card(self, name: str, version: str | None = None) -> ModelCard:
        """The model card of a version (latest when omitted), regenerated from MLflow and our records."""
        ...

    def update_card(self, name: str, version: str, sections: dict[str, str]) -> ModelCard:
        """Write the human sections (``intended_use``, ``limitations``) of a card and store it with the version."""
        ...

    # --- monitoring ---------------------------------------------------------------------------------------------

    def monitor(self, name: str, window: str | float = "1h") -> MonitoringReport:
        """A deployment's monitoring over the last ``window`` (``"15m"``, ``"1h"``, ``"7d"`` or seconds).

        The report has ``.drift`` and ``.ops`` DataFrames, ``.performance``, ``.health`` and ``.alerts``.
        """
        ...

    def feedback(self, name: str, request_ids: Any, labels: Any) -> dict[str, Any]:
        """Attach ground-truth labels to logged requests (ids from the ``X-MLOps-Request-Id`` header).

        Returns:
            ``{"accepted": n}``.
        """
        ...

    def alerts(self, name: str | None = None) -> list[Alert]:
        """Alerts, firing and resolved, newest first, of one deployment or all (rules are evaluated first)."""
        ...

    def acknowledge_alert(self, alert_id: int) -> Alert:
        """Acknowledge a fired alert (recorded in the ledger); it stays firing until its condition clears."""
        ...

    def alert_rules(self, name: str, rules: list[dict[str, Any]] | None = None) -> list[AlertRule]:
        """A deployment's alert rules; with ``rules``, replace its own rules first (defaults fill in the rest)."""
        ...

    def health(self, name: str | None = None, window: str | float = "1h") -> Health:
        """Health of one deployment, or of the fleet when ``name`` is None.

        A score from 0 to 100 (green, amber or red) from errors, latency, drift and performance; ``unknown`` with
        no score when there is no data to judge.
        """
        ...

    # --- model risk management (issue 17) -----------------------------------------------------------------------

    def inventory(self, name: str, version: str | None = None) -> InventoryEntry:
        """The inventory record (SR 11-7 fields) of a registered model, or of one of its versions.

        Raises:
            NotFound: No such model or version.
        """
        ...

    def set_inventory(self, name: str, fields: dict[str, Any], version: str | None = None) -> InventoryEntry:
        """Set inventory fields of a model (or one version); only the fields given change (recorded in the ledger).

        Args:
            name: The registered model.
            fields: Any of purpose, intended_use, business_owner, technical_owner, risk_tier (one of
                ``MLOpsConfig.risk_tiers``), lifecycle_status (development, validation, production, retired),
                next_review_due (an ISO date, today or later).
            version: A version, to set fields of that version only.

        Raises:
            InvalidRequest: An unknown field, tier or status (the message lists the allowed values), or a review
                date in the past.
        """
        ...

    def validate_version(
        self,
        name: str,
        version: str,
        outcome: str,
        *,
        findings: list[dict[str, Any]] | None = None,
        evidence: list[str] | None = None,
        comment: str | None = None,
    ) -> Validation:
        """Record an independent validation of a version (validator role; recorded in the ledger).

        Args:
            name: The registered model.
            version: The version validated.
            outcome: approved, approved_with_conditions or rejected.
            findings: ``[{"severity": "low|medium|high|critical", "description": "..."}]``.
            evidence: Which evidence to attach as held now: metrics, parity, monitoring, card (default: all).
            comment: Conditions or a summary.

        Raises:
            Forbidden: The principal is not a validator, or registered or owns the model (recorded).
        """
        ...

    def validations(self, name: str, version: str | None = None) -> list[Validation]:
        """Validations of a model (or one version), newest first."""
        ...

    def check_reviews(self) -> list[ReviewAlert]:
        """Raise an alert (a ledger entry) for each model past its review date, once per due date."""
        ...

    def risk_summary(self) -> RiskSummary:
        """Models by tier and lifecycle, reviews overdue and production models never validated (fleet view)."""
        ...

    def set_retention(
        self,
        deployment: str,
        *,
        inference_log_days: float | None = None,
        ledger_days: float | None = None,
        override: bool = False,
    ) -> Retention:
        """Declare how long a deployment's inference log and ledger entries are kept (days; 0 = forever).

        Below six months on a deployment serving a model of the highest risk tier is refused unless an admin
        passes ``override`` (recorded as an override).
        """
        ...

    def inventory_report(self, as_of: date | str | None = None, format: str = "csv") -> bytes:
        """The model inventory as of a date (default today) as csv, json, html or pdf."""
        ...

    def technical_documentation(self, name: str, version: str, format: str = "md") -> bytes:
        """A version's technical documentation with the EU AI Act Annex IV sections, as md, html or pdf."""
        ...

    def logging_evidence(
        self, deployment: str, start: datetime | str, end: datetime | str, format: str = "json"
    ) -> bytes:
        """Article 12 logging evidence of a deployment over a period, as json, md, html or pdf.

        Raises:
            InvalidRequest: The period ends before it starts, or a time is not ISO 8601.
        """
        ...

    def close(self) -> None:
        """Release clients and wait for background work (the serving daemon keeps running)."""
        ...
