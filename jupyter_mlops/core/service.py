"""MLOps: the embedded facade every door calls (Python API, magics, REST handlers, CLI); it implements MLOpsAPI.

It orchestrates; it does not store models (MLflow does) or serve them (targets do). A deploy pins a reference
to one version, writes the desired state to the Store, and lets the target converge onto it. Each operation
authorizes the bound principal, delegates (registry, ``deployments/rollout``, ``governance/changes``, monitoring),
and writes one ledger entry; the contract's docstrings (``core/facade.py``) say what each operation does.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from ..config import MLOpsConfig
from . import lineage, payloads, registration, validation
from .deployments import rollout
from .deployments.config import DeploymentConfig, serving_settings
from .errors import InvalidRequest, MLOpsError, NotFound, Unavailable
from .facade import MLOpsAPI
from .governance import AuditLedger, DeploymentTokens, Governance, cards
from .governance.audit import AuditEvent, ChainReport, ServedAt
from .governance.cards import LineageChain, ModelCard
from .governance.changes import (
    ChangeGate,
    deploy_onto_change,
    promote_change,
    rollback_change,
    serving_state,
    sync_change,
    traffic_change,
    version_state,
)
from .governance.policy import Approval, record_or_fail
from .models import (
    Deployment,
    DeploymentSpec,
    ModelRef,
    ModelVersion,
    Page,
    RegisteredModel,
    RolloutEvent,
    RuntimeStatus,
    Variant,
    VariantRole,
)
from .monitoring.models import Alert, AlertRule, Health, WhoAmI, parse_health
from .principal import Principal
from .registry import Registry
from .resource import Resource
from .store import Store
from .targets import ProgressCallback, Target

if TYPE_CHECKING:
    from .monitoring.report import MonitoringReport
    from .monitoring.service import Monitoring

log = logging.getLogger(__name__)


def deployment_name_for(model_name: str) -> str:
    """A valid deployment name derived from a model name (``Churn_Model`` -> ``churn-model``)."""
    name = re.sub(r"[^a-z0-9-]+", "-", model_name.lower()).strip("-")[: validation.MAX_NAME_LENGTH].strip("-")
    return name or "model"


class _Shared:
    """What a facade and its ``acting_as`` views share: the serving targets and monitoring, built on first use."""

    def __init__(self, origin: MLOps, targets: dict[str, Target] | None) -> None:
        self.lock = threading.Lock()
        self.origin = origin  # the facade the views were made from (monitoring reads as its owner)
        self.targets = targets
        self.monitoring: Monitoring | None = None


class MLOps(MLOpsAPI):
    """Register, catalog, deploy and call models as one principal. Thread-safe; one instance per process is enough."""

    def __init__(
        self,
        config: MLOpsConfig | None = None,
        principal: Principal | str | None = None,
        *,
        user: str | None = None,
        registry: Registry | None = None,
        store: Store | None = None,
        targets: dict[str, Target] | None = None,
    ) -> None:
        """Build the facade from settings, acting as ``principal``.

        Args:
            config: Settings (default: ``MLOpsConfig()`` with ``JUPYTER_MLOPS_*`` variables).
            principal: Who acts (a ``Principal`` or a user name); default: ``user``, else the process's user
                (``JUPYTERHUB_USER`` or the OS user). It also owns what this facade creates.
            user: The user name to act as when no ``principal`` is given.
            registry: A registry to share (default: one on the configured MLflow URIs).
            store: A store to share (default: one on ``config.store_url``).
            targets: Serving targets by name (default: built from configuration on first use).
        """
        self.config = config or MLOpsConfig()
        if principal is None:
            principal = Principal(name=user) if user else Principal.current()
        self._principal = Principal(name=principal) if isinstance(principal, str) else principal
        self.user = self._principal.name  # the owner of what this facade (and every view of it) creates
        self._view = False
        self.registry = registry or Registry(
            self.config.tracking_uri,
            self.config.registry_uri,
            artifact_root=self.config.artifact_root,
            experiment_name=self.config.experiment_name,
        )
        self.store = store or Store(self.config.store_url)
        self._shared = _Shared(self, targets)  # shared with every acting_as view
        # Governance: the append-only ledger, roles/approvals, and per-deployment tokens.
        self.audit = AuditLedger(self.store)
        self.governance = Governance(self.config, self.store, self.audit)
        self.tokens = DeploymentTokens(self.store)

    # --- identity ---------------------------------------------------------------------------------------------

    @property
    @override
    def principal(self) -> Principal:
        return self._principal

    def acting_as(self, principal: Principal) -> MLOps:
        """A cheap view of this facade acting as ``principal``.

        The view shares registry, store, targets, governance and monitoring with this facade; what it creates is
        still owned by this facade's user. Doors build one per authenticated caller (the REST door per request).
        """
        view = copy.copy(self)
        view._principal = principal
        view._view = True
        return view

    # --- targets ----------------------------------------------------------------------------------------------

    @property
    def targets(self) -> dict[str, Target]:
        """The serving targets by name (``local`` plus those configured), built on first use."""
        shared = self._shared
        with shared.lock:
            if shared.targets is None:
                from .targets.local import LocalTarget
                from .targets.registry import build_targets

                built: dict[str, Target] = {"local": LocalTarget(self.config, self.store)}
                built.update(build_targets(self.config, self.store))  # c.MLOpsConfig.targets: kserve, ray, ...
                shared.targets = built
            return shared.targets

    @property
    def built_targets(self) -> dict[str, Target] | None:
        """The serving targets if already built, else None (teardown code need not build them to stop them)."""
        return self._shared.targets

    _targets = built_targets  # the name tests used before the facade's state moved into _Shared

    def target(self, name: str) -> Target:
        """The serving target ``name``, or InvalidRequest naming the configured ones."""
        try:
            return self.targets[name]
        except KeyError:
            known = ", ".join(sorted(self.targets))
            raise InvalidRequest(f"Unknown target {name!r}: configured targets are {known}.") from None

    # --- registry ---------------------------------------------------------------------------------------------

    @override
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
    ) -> ModelVersion:
        name = validation.model_name(name)
        alias = validation.alias(alias) if alias else None
        self._authorize("register", Resource.model(name))
        all_tags = {**lineage.capture(X, notebook=notebook, user=self.principal.name), **(tags or {})}
        version = registration.log_version(
            self.registry, model, name, X, y, tags=all_tags, description=description, params=params, metrics=metrics
        )
        if X is not None:
            self.monitoring.record_baseline(version, model, X)  # training profile, an artifact of the version's run
            # governance: training rows the parity gate replays at deploy
            registration.record_parity_sample(self.registry, version, X, self.config.parity_sample_rows)
        self._audit("register", Resource.model(name, version=version.version), None, version_state(version))
        if alias:
            version = self.set_alias(name, alias, version.version)
        return version

    @override
    def models(self, filter: str | None = None, max_results: int = 50, page_token: str | None = None) -> Page:
        if not 1 <= max_results <= 1000:
            raise InvalidRequest("max_results must be between 1 and 1000.")
        return self.registry.search(filter, max_results=max_results, page_token=page_token)

    @override
    def model(self, name: str) -> RegisteredModel:
        return self.registry.model(validation.model_name(name))

    @override
    def versions(self, name: str) -> list[ModelVersion]:
        return self.registry.versions(validation.model_name(name))

    @override
    def version(self, name: str, version: str) -> ModelVersion:
        return self.registry.version(validation.model_name(name), validation.version(version))

    @override
    def set_alias(self, name: str, alias: str, version: str | int) -> ModelVersion:
        name, alias, version = validation.model_name(name), validation.alias(alias), validation.version(version)
        resource = Resource.model(name, alias=alias)
        self._authorize("set_alias", resource)
        if self.governance.is_protected("set_alias", alias=alias):
            self.governance.require_approval("set_alias", self.principal, self.user, str(resource), version)
        before = self._alias_version(name, alias)
        result = self.registry.set_alias(name, alias, version)
        self._audit("set_alias", resource, {"version": before}, {"version": version})
        return result

    @override
    def delete_alias(self, name: str, alias: str) -> None:
        name, alias = validation.model_name(name), validation.alias(alias)
        resource = Resource.model(name, alias=alias)
        self._authorize("delete_alias", resource)
        before = self._alias_version(name, alias)
        self.registry.delete_alias(name, alias)
        self._audit("delete_alias", resource, {"version": before}, None)

    # --- deployments ------------------------------------------------------------------------------------------

    @override
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
    ) -> Deployment:
        spec = DeploymentSpec(model=model, name=name, target=target or self.config.default_target, wait=wait)
        ref = ModelRef.parse(spec.model)
        deploy_target = self.target(spec.target)
        pinned = self.registry.resolve(ref)
        dep_name = spec.name or deployment_name_for(ref.name)
        existing = self._existing(dep_name)
        owner = existing.owner if existing is not None else self._owner_for()
        resource = Resource.deployment(dep_name)
        self._authorize("deploy", resource, owner=owner)
        if self.governance.is_protected("deploy", deployment=dep_name):
            self.governance.require_approval("deploy", self.principal, owner, str(resource), pinned.version)
        settings = serving_settings(batching, isolated)
        if canary is not None or shadow or (replace and self._exists(dep_name)):
            self._roll_out(dep_name, ref, pinned, canary=canary, shadow=shadow, settings=settings)
        else:
            variants = [Variant(model_name=pinned.name, model_version=pinned.version, role=VariantRole.primary)]
            self.store.create_deployment(
                dep_name, owner=owner, target=spec.target, model_ref=str(ref), variants=variants,
                config=DeploymentConfig().merged(**settings).to_json(),
            )  # fmt: skip
            message = f"deployed {pinned.uri}"
            rollout.record_event(self.store, dep_name, "deploy", message, variant="primary", actor=owner)
            if self._tokens_required():
                self.tokens.issue(dep_name)  # locks the endpoint at once; the owner gets a token with issue_token()
        before = serving_state(existing)
        after = serving_state(self.store.get_deployment(dep_name))
        status = deploy_target.apply(dep_name)
        if on_progress is not None:
            on_progress(status)
        if spec.wait:
            try:
                status = deploy_target.wait_ready(dep_name, self.config.deploy_timeout, on_progress)
            except MLOpsError as exc:
                self._audit("deploy", resource, before, after, owner=owner, outcome="failed", detail=exc.message)
                raise
        self._audit("deploy", resource, before, after, owner=owner)
        return self.store.get_deployment(dep_name).observed(status)

    @override
    def deployments(self, owner: str | None = None) -> list[Deployment]:
        records = self.store.list_deployments(owner=owner)
        # Under JupyterHub a user sees only what they own or were granted.
        records = [d for d in records if self.governance.may_use(self.principal, d.owner, d.name)]
        observed: dict[str, RuntimeStatus] = {}
        for target_name in {d.target for d in records}:
            try:
                observed.update(self.target(target_name).statuses())
            except MLOpsError as exc:
                log.warning("target %s did not report status: %s", target_name, exc.message)
        return [d.observed(observed.get(d.name)) for d in records]

    @override
    def deployment(self, name: str) -> Deployment:
        record = self.store.get_deployment(validation.deployment_name(name))
        self._authorize("read", Resource.deployment(record.name), owner=record.owner)
        try:
            status = self.target(record.target).status(record.name)
        except Unavailable:
            status = None
        return record.observed(status)

    @override
    def undeploy(self, name: str) -> bool:
        name = validation.deployment_name(name)
        try:
            record = self.store.get_deployment(name)
        except NotFound:
            return False
        resource = Resource.deployment(name)
        self._authorize("undeploy", resource, owner=record.owner)
        self.store.delete_deployment(name)
        self.target(record.target).remove(name)
        self.tokens.revoke(name)
        self._audit("undeploy", resource, serving_state(record), None, owner=record.owner)
        return True

    @override
    def invoke(
        self, name: str, body: bytes, content_type: str = "application/json"
    ) -> tuple[int, dict[str, str], bytes]:
        record = self.store.get_deployment(validation.deployment_name(name))
        self._authorize("read", Resource.deployment(record.name), owner=record.owner)
        return self.target(record.target).invoke(record.name, body, content_type)

    @override
    def predict(self, name: str, data: Any, params: dict[str, Any] | None = None) -> Any:
        status, _headers, body = self.invoke(name, payloads.scoring_request(data, params))
        if status >= 400:
            message = payloads.error_message(body, status)
            if status in (400, 413, 415, 422):
                raise InvalidRequest(message)
            if status == 404:
                raise NotFound(message)
            raise Unavailable(message)
        return payloads.predictions(body)

    def reconcile(self) -> int:
        """Bring every target up to the desired state (after a restart). Returns how many deployments."""
        records = self.store.list_deployments()
        for target_name in {d.target for d in records}:
            target = self.target(target_name)
            for record in records:
                if record.target == target_name:
                    target.apply(record.name)
        return len(records)

    # --- rollouts (canary, shadow, traffic, promote, rollback, alias sync) -------------------------------------

    @override
    def set_traffic(self, name: str, weights: dict[str, int], *, wait: bool = True) -> Deployment:
        return self._apply_change(validation.deployment_name(name), traffic_change(weights), wait=wait)

    @override
    def promote(self, name: str, *, wait: bool = True) -> Deployment:
        return self._apply_change(validation.deployment_name(name), promote_change, wait=wait)

    @override
    def rollback(self, name: str, *, wait: bool = True) -> Deployment:
        return self._apply_change(validation.deployment_name(name), rollback_change, wait=wait)

    @override
    def sync(self, name: str, *, wait: bool = True) -> Deployment:
        name = validation.deployment_name(name)
        record, pinned = self._changes.sync_plan(name)
        current = rollout.primary_of(record.variants)
        if (current.model_name, current.model_version) == (pinned.name, pinned.version):
            message = f"{record.model_ref} still resolves to {pinned.uri}; nothing to redeploy"
            rollout.record_event(self.store, name, "sync", message, variant="primary", actor=self.principal.name)
            return self.deployment(name)
        return self._apply_change(name, sync_change(record.model_ref, pinned), wait=wait)

    @override
    def events(self, name: str, limit: int = 100) -> list[RolloutEvent]:
        return rollout.events(self.store, validation.deployment_name(name), limit)

    def _roll_out(
        self, name: str, ref: ModelRef, pinned: ModelVersion, *, canary: int | None, shadow: bool,
        settings: dict[str, Any],
    ) -> None:  # fmt: skip
        """Add a canary or shadow, or replace the primary (remembering it), on an existing deployment."""
        apply = deploy_onto_change(pinned, canary=canary, shadow=shadow, settings=settings)
        if not self._exists(name):
            raise NotFound(
                f"No deployment named {name!r} to add a {'canary' if canary is not None else 'shadow'} to: deploy "
                "its primary model first."
            )
        model_ref = str(ref) if canary is None and not shadow else None  # only a new primary changes the reference
        rollout.change(self.store, name, apply, actor=self.principal.name, model_ref=model_ref)

    def _apply_change(self, name: str, apply: rollout.Change, *, wait: bool) -> Deployment:
        """Authorize one rollout change, write it, audit it, let the target converge, and (with ``wait``) wait."""
        cleared = self._changes.clear(name, apply)
        record = rollout.change(self.store, name, cleared.apply, actor=self.principal.name)
        before, after = serving_state(cleared.record), serving_state(record)
        self._audit(cleared.action, Resource.deployment(name), before, after, owner=cleared.record.owner,
                    detail=cleared.note)  # fmt: skip
        target = self.target(record.target)
        status = target.apply_traffic(name)
        if wait:
            status = target.wait_ready(name, self.config.deploy_timeout)
        return self.store.get_deployment(name).observed(status)

    @property
    def _changes(self) -> ChangeGate:
        """The approval gate and evidence builder, acting as this facade's principal."""
        return ChangeGate(self.store, self.registry, self.governance, self.principal, self.user)

    @override
    def close(self) -> None:
        if self._view:  # a view closes nothing: its origin owns the clients
            return
        shared = self._shared
        if shared.targets:
            for target in shared.targets.values():
                target.close()
        if shared.monitoring is not None:
            shared.monitoring.close()  # waits for the MLflow history it is still logging
        self.store.close()

    # --- governance -------------------------------------------------------------------------------------------

    @override
    def audit_events(
        self,
        target: str | None = None,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        by: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        if not 1 <= limit <= 100_000:
            raise InvalidRequest("limit must be between 1 and 100000.")
        return self.audit.events(target, since=since, until=until, actor=by, limit=limit)

    @override
    def export_audit(
        self,
        target: str | None = None,
        *,
        format: str = "json",
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> str:
        if format not in ("json", "csv"):
            raise InvalidRequest(f"Unknown export format {format!r}: use json or csv.")
        events = self.audit.events(target, since=since, until=until, limit=1_000_000)
        return self.audit.to_csv(events) if format == "csv" else self.audit.to_json(events)

    @override
    def verify_audit(self) -> ChainReport:
        return self.audit.verify()

    @override
    def served_at(self, deployment: str, at: datetime | str) -> ServedAt:
        return self.audit.served_at(validation.deployment_name(deployment), at)

    @override
    def whoami(self) -> WhoAmI:
        p = self.principal
        return WhoAmI(
            user=p.name, owner=self.user, role=self.governance.role(p), groups=list(p.groups), scopes=sorted(p.scopes)
        )

    @override
    def request_approval(self, action: str, target: str, payload: dict[str, Any] | None = None) -> Approval:
        return self._changes.request(action, target, dict(payload or {}))

    @override
    def approvals(self, status: str | None = None) -> list[Approval]:
        return self.governance.approvals(status)

    @override
    def grant(self, approval_id: int, *, comment: str | None = None) -> Approval:
        return self.governance.decide(int(approval_id), self.principal, grant=True, comment=comment)

    @override
    def reject(self, approval_id: int, *, comment: str | None = None) -> Approval:
        return self.governance.decide(int(approval_id), self.principal, grant=False, comment=comment)

    @override
    def issue_token(self, name: str) -> str:
        record = self.store.get_deployment(validation.deployment_name(name))
        resource = Resource.deployment(record.name)
        self._authorize("issue_token", resource, owner=record.owner)
        token = self.tokens.issue(record.name)
        self._audit("issue_token", resource, None, {"token": "issued"}, owner=record.owner)
        return token

    @override
    def lineage(self, subject: str) -> LineageChain:
        deployment = None
        if "/" not in subject and "@" not in subject and self._existing(subject) is not None:
            deployment = self.deployment(subject)
            version = self.registry.version(deployment.model_name, deployment.model_version)
        else:
            version = self.registry.resolve(ModelRef.parse(subject))
        return cards.chain(version, deployment)

    @override
    def card(self, name: str, version: str | None = None) -> ModelCard:
        ref = ModelRef.parse(f"{name}/{version}" if version else name)
        found = self.registry.resolve(ref)
        mv = self.registry.version(found.name, found.version)
        return self._build_card(mv, cards.load_sections(self.registry.client, mv.run_id))

    @override
    def update_card(self, name: str, version: str, sections: dict[str, str]) -> ModelCard:
        unknown = set(sections) - set(cards.EDITABLE)
        if unknown:
            raise InvalidRequest(f"Only {', '.join(cards.EDITABLE)} can be edited (got {', '.join(sorted(unknown))}).")
        if any(not isinstance(v, str) or len(v) > 20_000 for v in sections.values()):
            raise InvalidRequest("Card sections must be text of at most 20000 characters.")
        mv = self.registry.version(validation.model_name(name), validation.version(version))
        resource = Resource.model(mv.name, version=mv.version)
        self._authorize("update_card", resource)
        current = cards.load_sections(self.registry.client, mv.run_id)
        card = self._build_card(mv, {**current, **sections})
        cards.store_card(self.registry.client, card, mv.run_id)
        self._audit("update_card", resource, current, {k: card.model_dump()[k] for k in cards.EDITABLE})
        return card

    def _build_card(self, mv: ModelVersion, sections: dict[str, str]) -> ModelCard:
        """A version's card from MLflow, our deployments and approvals, and its monitoring summary."""
        try:
            monitoring = self.monitoring_summary(mv.name, mv.version)
        except Exception:  # a card must render even when monitoring has nothing yet
            monitoring = None
        return cards.assemble(mv, sections, self.store.list_deployments(), self.governance.approvals(), monitoring)

    # --- monitoring (core/monitoring) --------------------------------------------------------------------------

    @property
    def monitoring(self) -> Monitoring:
        """The monitoring service of this facade and its views (created on first use)."""
        shared = self._shared
        with shared.lock:
            if shared.monitoring is None:
                from .monitoring.service import Monitoring

                shared.monitoring = Monitoring(shared.origin)  # reads deployments as the owner, whichever view asks
            return shared.monitoring

    @override
    def monitor(self, name: str, window: str | float = "1h") -> MonitoringReport:
        record = self.store.get_deployment(validation.deployment_name(name))
        self._authorize("read", Resource.deployment(record.name), owner=record.owner)
        return self.monitoring.report(record.name, window)

    @override
    def feedback(self, name: str, request_ids: Any, labels: Any) -> dict[str, Any]:
        name = validation.deployment_name(name)
        result = self.monitoring.feedback(name, request_ids, labels, actor=self.principal.name)
        self._audit("feedback", Resource.deployment(name), None, {"accepted": result.get("accepted")})
        return result

    @override
    def alerts(self, name: str | None = None) -> list[Alert]:
        found = self.monitoring.alerts(validation.deployment_name(name) if name is not None else None)
        return [Alert.model_validate(a) for a in found]

    @override
    def acknowledge_alert(self, alert_id: int) -> Alert:
        if isinstance(alert_id, bool) or not isinstance(alert_id, int) or alert_id < 1:
            raise InvalidRequest(f"Invalid alert id {alert_id!r}: alert ids are positive integers.")
        before, after = self.monitoring.acknowledge(alert_id, self.principal.name)
        self._audit("acknowledge_alert", Resource.deployment(after["deployment"]).with_alert(alert_id), before, after)
        return Alert.model_validate(after)

    @override
    def alert_rules(self, name: str, rules: list[dict[str, Any]] | None = None) -> list[AlertRule]:
        name = validation.deployment_name(name)
        if rules is None:
            self.store.get_deployment(name)
            found = self.monitoring.rules(name)
        else:
            found = self.monitoring.set_rules(name, rules)
        return [AlertRule.model_validate(r) for r in found]

    @override
    def health(self, name: str | None = None, window: str | float = "1h") -> Health:
        found = self.monitoring.health(validation.deployment_name(name) if name is not None else None, window)
        return parse_health(found)

    def monitoring_summary(self, model_name: str, version: str) -> dict[str, Any] | None:
        """For model cards: the health of the deployments serving a version and whether it has a baseline."""
        return self.monitoring.summary(model_name, version)

    # --- helpers ----------------------------------------------------------------------------------------------

    def _owner_for(self) -> str:
        """Owner of a new resource: the server's user under a hub (whoever acts), else whoever acts."""
        return self.user if self.config.isolate_users else self.principal.name

    def _tokens_required(self) -> bool:
        return bool(self.config.require_deployment_token or self.config.isolate_users)

    def _authorize(self, action: str, resource: Resource, *, owner: str | None = None) -> None:
        """Raise Forbidden (recorded in the ledger) unless the principal may do ``action`` on ``resource``."""
        deployment = resource.name if resource.kind == "deployment" else None
        self.governance.authorize(
            action, self.principal, owner=owner or self.user, target=str(resource), deployment=deployment
        )

    def _audit(
        self,
        action: str,
        resource: Resource,
        before: Any,
        after: Any,
        *,
        owner: str | None = None,
        outcome: str = "ok",
        detail: str | None = None,
    ) -> None:
        """Append to the ledger as the acting principal; a failed write fails the change (raises Unavailable)."""
        record_or_fail(
            self.audit, action, self.principal.name, owner or self.user, str(resource), before, after,
            outcome=outcome, detail=detail,
        )  # fmt: skip

    def _existing(self, name: str) -> Deployment | None:
        try:
            return self.store.get_deployment(name)
        except NotFound:
            return None

    def _alias_version(self, name: str, alias: str) -> str | None:
        try:
            return self.registry.resolve(ModelRef(name=name, alias=alias)).version
        except NotFound:
            return None

    def _exists(self, name: str) -> bool:
        return self.store.generation(name) is not None
