"""MLOps: the one facade every door calls (Python API, magics, REST handlers, CLI).

It orchestrates; it does not store models (MLflow does) or serve them (targets do). A deploy pins a reference
to one version, writes the desired state to the Store, and lets the target converge onto it.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from ..config import MLOpsConfig
from . import lineage, payloads, validation
from .deployments import rollout
from .deployments.config import DeploymentConfig, batching_settings
from .errors import Conflict, InvalidRequest, MLOpsError, NotFound, Unavailable
from .governance import AuditLedger, DeploymentTokens, Governance, cards
from .governance.audit import AuditEvent, ChainReport, ServedAt
from .governance.cards import LineageChain, ModelCard
from .governance.policy import APPROVABLE, ROLLOUT_ACTIONS, Approval, record_or_fail
from .models import (
    Deployment,
    DeploymentSpec,
    DeploymentState,
    DeploymentStep,
    ModelRef,
    ModelVersion,
    Page,
    RegisteredModel,
    RolloutEvent,
    RuntimeStatus,
    StepStatus,
    Variant,
    VariantRole,
)
from .monitoring import baseline as baselines
from .monitoring.models import Alert, AlertRule, Health, WhoAmI, parse_health
from .principal import Principal
from .registry import Registry
from .store import Store
from .targets import ProgressCallback, Target

log = logging.getLogger(__name__)


def deployment_name_for(model_name: str) -> str:
    """A valid deployment name derived from a model name (``Churn_Model`` -> ``churn-model``)."""
    name = re.sub(r"[^a-z0-9-]+", "-", model_name.lower()).strip("-")[: validation.MAX_NAME_LENGTH].strip("-")
    return name or "model"


class _Shared:
    """What a facade and its ``acting_as`` views share: the serving targets and monitoring, built on first use."""

    def __init__(self, targets: dict[str, Target] | None) -> None:
        self.lock = threading.Lock()
        self.targets = targets
        self.monitoring: Any = None
        self.root: Any = None  # the facade the views were made from


class MLOps:
    """Register, catalog, deploy and call models. Thread-safe; one instance per process is enough."""

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
        self._shared = _Shared(targets)  # shared with every acting_as view
        self._shared.root = self
        # Governance (issue 6): the append-only ledger, roles/approvals, and per-deployment tokens.
        self.audit = AuditLedger(self.store)
        self.governance = Governance(self.config, self.store, self.audit)
        self.tokens = DeploymentTokens(self.store)

    # --- identity ---------------------------------------------------------------------------------------------

    @property
    def principal(self) -> Principal:
        """Who this facade acts as (bound at construction or by ``acting_as``)."""
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
    def built_targets(self) -> dict[str, Target] | None:
        """The serving targets if already built, else None (teardown code need not build them to stop them)."""
        return self._shared.targets

    _targets = built_targets  # the name tests used before the facade's state moved into _Shared

    @property
    def targets(self) -> dict[str, Target]:
        """The serving targets by name (``local`` plus those configured), built on first use."""
        shared = self._shared
        with shared.lock:
            if shared.targets is None:
                from .targets.local import LocalTarget

                built: dict[str, Target] = {"local": LocalTarget(self.config, self.store)}
                # Targets named in configuration (c.MLOpsConfig.targets), e.g. "kserve" or "ray".
                from .targets.registry import build_targets

                built.update(build_targets(self.config, self.store))
                shared.targets = built
            return shared.targets

    def target(self, name: str) -> Target:
        """The serving target ``name``, or InvalidRequest naming the configured ones."""
        try:
            return self.targets[name]
        except KeyError:
            known = ", ".join(sorted(self.targets))
            raise InvalidRequest(f"Unknown target {name!r}: configured targets are {known}.") from None

    # --- registry ---------------------------------------------------------------------------------------------

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
        """Register an in-memory model (or a ``runs:/``/``models:/`` URI) as a new version of ``name``.

        With ``X`` the signature is inferred from X and the model's predictions on it, and the first rows
        become the input example that deployments warm up on. ``alias`` (e.g. ``"champion"``) then points at
        the new version.
        """
        name = validation.model_name(name)
        alias = validation.alias(alias) if alias else None
        self._authorize("register", target=f"model/{name}")
        all_tags = {**lineage.capture(X, notebook=notebook, user=self.principal.name), **(tags or {})}
        if isinstance(model, str):
            version = self.registry.register_uri(model, name, tags=all_tags, description=description)
        else:
            signature, example = _signature_and_example(model, X)
            version = self.registry.log_model(
                model,
                name,
                signature=signature,
                input_example=example,
                params={**_model_params(model), **(params or {})},
                metrics={**_training_metrics(model, X, y), **(metrics or {})},
                tags=all_tags,
                description=description,
            )
        if X is not None:
            self.monitoring.record_baseline(version, model, X)  # training profile, an artifact of the version's run
            self._record_parity_sample(version, X)  # governance: training rows the parity gate replays at deploy
        self._audit("register", f"model/{name}/{version.version}", None, _version_state(version))
        if alias:
            version = self.set_alias(name, alias, version.version)
        return version

    def models(self, filter: str | None = None, max_results: int = 50, page_token: str | None = None) -> Page:
        if not 1 <= max_results <= 1000:
            raise InvalidRequest("max_results must be between 1 and 1000.")
        return self.registry.search(filter, max_results=max_results, page_token=page_token)

    def model(self, name: str) -> RegisteredModel:
        return self.registry.model(validation.model_name(name))

    def versions(self, name: str) -> list[ModelVersion]:
        return self.registry.versions(validation.model_name(name))

    def version(self, name: str, version: str) -> ModelVersion:
        return self.registry.version(validation.model_name(name), validation.version(version))

    def set_alias(self, name: str, alias: str, version: str | int) -> ModelVersion:
        name, alias, version = validation.model_name(name), validation.alias(alias), validation.version(version)
        target = f"model/{name}@{alias}"
        self._authorize("set_alias", target=target)
        if self.governance.is_protected("set_alias", alias=alias):
            self.governance.require_approval("set_alias", self.principal, self.user, target, version)
        before = self._alias_version(name, alias)
        result = self.registry.set_alias(name, alias, version)
        self._audit("set_alias", target, {"version": before}, {"version": version})
        return result

    def delete_alias(self, name: str, alias: str) -> None:
        name, alias = validation.model_name(name), validation.alias(alias)
        target = f"model/{name}@{alias}"
        self._authorize("delete_alias", target=target)
        before = self._alias_version(name, alias)
        self.registry.delete_alias(name, alias)
        self._audit("delete_alias", target, {"version": before}, None)

    # --- deployments ------------------------------------------------------------------------------------------

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
        """Deploy ``NAME``, ``NAME/VERSION`` or ``NAME@ALIAS`` as a live endpoint.

        The reference is resolved once to a pinned version. With ``wait`` this returns when the deployment is
        ready (or raises DeploymentFailed naming the failed step); otherwise it returns at once and the
        deployment's ``steps`` show progress. ``replace`` swaps the model of an existing deployment without
        downtime (the old version is remembered for ``rollback``). Onto an existing deployment, ``canary=20``
        adds the version as a canary taking 20% of traffic and ``shadow=True`` as a shadow that gets a mirrored
        copy of every request. ``batching`` (``{"max_batch_size", "max_wait_ms", "enabled"}``) tunes
        micro-batching. ``isolated=True`` serves it from a supervised worker process of its own (local target).
        """
        spec = DeploymentSpec(model=model, name=name, target=target or self.config.default_target, wait=wait)
        ref = ModelRef.parse(spec.model)
        deploy_target = self.target(spec.target)
        pinned = self.registry.resolve(ref)
        dep_name = spec.name or deployment_name_for(ref.name)
        variants = [Variant(model_name=pinned.name, model_version=pinned.version, role=VariantRole.primary)]
        existing = self._existing(dep_name)
        owner = existing.owner if existing is not None else self._owner_for()
        audit_target = f"deployment/{dep_name}"
        self._authorize("deploy", target=audit_target, owner=owner, deployment=dep_name)
        if self.governance.is_protected("deploy", deployment=dep_name):
            self.governance.require_approval("deploy", self.principal, owner, audit_target, pinned.version)
        settings = _serving_settings(batching, isolated)
        if canary is not None or shadow or (replace and self._exists(dep_name)):
            self._roll_out(dep_name, ref, pinned, canary=canary, shadow=shadow, settings=settings)
        else:
            self.store.create_deployment(
                dep_name, owner=owner, target=spec.target, model_ref=str(ref), variants=variants,
                config=DeploymentConfig().merged(**settings).to_json(),
            )  # fmt: skip
            message = f"deployed {pinned.uri}"
            rollout.record_event(self.store, dep_name, "deploy", message, variant="primary", actor=owner)
            if self._tokens_required():
                self.tokens.issue(dep_name)  # locks the endpoint at once; the owner gets a token with issue_token()
        before = _serving_state(existing)
        after = _serving_state(self.store.get_deployment(dep_name))
        status = deploy_target.apply(dep_name)
        if on_progress is not None:
            on_progress(status)
        if spec.wait:
            try:
                status = deploy_target.wait_ready(dep_name, self.config.deploy_timeout, on_progress)
            except MLOpsError as exc:
                self._audit(
                    "deploy", audit_target, before, after, owner=owner, outcome="failed", detail=exc.message
                )
                raise
        self._audit("deploy", audit_target, before, after, owner=owner)
        return self._merge(self.store.get_deployment(dep_name), status)

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
        return [self._merge(d, observed.get(d.name)) for d in records]

    def deployment(self, name: str) -> Deployment:
        record = self.store.get_deployment(validation.deployment_name(name))
        self._authorize("read", target=f"deployment/{record.name}", owner=record.owner, deployment=record.name)
        try:
            status = self.target(record.target).status(record.name)
        except Unavailable:
            status = None
        return self._merge(record, status)

    def undeploy(self, name: str) -> bool:
        """Stop and forget a deployment. Returns False if there was none (undeploy is idempotent)."""
        name = validation.deployment_name(name)
        try:
            record = self.store.get_deployment(name)
        except NotFound:
            return False
        self._authorize("undeploy", target=f"deployment/{name}", owner=record.owner, deployment=name)
        self.store.delete_deployment(name)
        self.target(record.target).remove(name)
        self.tokens.revoke(name)
        self._audit("undeploy", f"deployment/{name}", _serving_state(record), None, owner=record.owner)
        return True

    def invoke(
        self, name: str, body: bytes, content_type: str = "application/json"
    ) -> tuple[int, dict[str, str], bytes]:
        """Send a raw scoring request to a deployment (the REST proxy route uses this)."""
        record = self.store.get_deployment(validation.deployment_name(name))
        self._authorize("read", target=f"deployment/{record.name}", owner=record.owner, deployment=record.name)
        return self.target(record.target).invoke(record.name, body, content_type)

    def predict(self, name: str, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Call a deployment with notebook data and return its predictions (as MLflow's server gives them)."""
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

    def set_traffic(
        self, name: str, weights: dict[str, int], *, wait: bool = True
    ) -> Deployment:
        """Set traffic weights by variant name or role, e.g. ``{"primary": 80, "canary": 20}`` (sum 100)."""
        name = validation.deployment_name(name)
        return self._apply_change(name, _traffic_change(weights), wait=wait)

    def promote(self, name: str, *, wait: bool = True) -> Deployment:
        """Make the canary (or the shadow, without a canary) the primary at 100%; the old primary is remembered
        for ``rollback``. No model is reloaded: the promoted version is already warm."""
        name = validation.deployment_name(name)
        return self._apply_change(name, _promote_change, wait=wait)

    def rollback(self, name: str, *, wait: bool = True) -> Deployment:
        """Undo the last rollout step: drop the canary if there is one, else return to the previous primary."""
        name = validation.deployment_name(name)
        return self._apply_change(name, _rollback_change, wait=wait)

    def sync(self, name: str, *, wait: bool = True) -> Deployment:
        """Re-resolve an alias-driven deployment (deployed as ``NAME@ALIAS``); redeploy when the alias moved."""
        name = validation.deployment_name(name)
        record, pinned = self._sync_plan(name)
        current = rollout.primary_of(record.variants)
        if (current.model_name, current.model_version) == (pinned.name, pinned.version):
            message = f"{record.model_ref} still resolves to {pinned.uri}; nothing to redeploy"
            rollout.record_event(self.store, name, "sync", message, variant="primary", actor=self.principal.name)
            return self.deployment(name)
        return self._apply_change(name, _sync_change(record.model_ref, pinned), wait=wait)

    def _sync_plan(self, name: str) -> tuple[Deployment, ModelVersion]:
        """An alias-driven deployment and the version its reference resolves to now."""
        record = self.store.get_deployment(name)
        ref = ModelRef.parse(record.model_ref)
        if ref.version is not None:
            raise InvalidRequest(
                f"Deployment {name!r} is pinned to {record.model_ref}; only deployments of NAME@ALIAS (or NAME, "
                "the latest version) follow the registry. Deploy NAME@ALIAS to make it alias-driven."
            )
        return record, self.registry.resolve(ref)

    def events(self, name: str, limit: int = 100) -> list[RolloutEvent]:
        """Rollout history of a deployment, oldest first: deploys, canaries, traffic, promotes, rollbacks and
        automatic rollbacks with their reasons."""
        return rollout.events(self.store, validation.deployment_name(name), limit)

    def _roll_out(
        self,
        name: str,
        ref: ModelRef,
        pinned: ModelVersion,
        *,
        canary: int | None,
        shadow: bool,
        settings: dict[str, Any],
    ) -> None:
        """Add a canary or shadow, or replace the primary (remembering it), on an existing deployment."""
        if canary is not None and shadow:
            raise InvalidRequest("Choose canary=<weight> or shadow=True, not both.")
        if canary is not None and (isinstance(canary, bool) or not isinstance(canary, int)):
            raise InvalidRequest("canary must be an integer weight from 0 to 100.")
        if not self._exists(name):
            raise NotFound(
                f"No deployment named {name!r} to add a {'canary' if canary is not None else 'shadow'} to: deploy "
                "its primary model first."
            )

        def apply(variants: list[Variant], config: DeploymentConfig) -> rollout.Outcome:
            config = config.merged(**settings) if settings else config
            if canary is not None:
                updated = rollout.with_canary(variants, pinned.name, pinned.version, canary)
                return updated, config, "canary", f"canary {pinned.uri} at {canary}%"
            if shadow:
                updated = rollout.with_shadow(variants, pinned.name, pinned.version)
                return updated, config, "shadow", f"shadow {pinned.uri} gets a mirrored copy of every request"
            current = rollout.primary_of(variants)
            primary = current.model_copy(
                update={"model_name": pinned.name, "model_version": pinned.version, "weight": 100}
            )
            kept = [v for v in variants if v.role == VariantRole.shadow]
            message = f"replaced the primary {current.model_uri} with {pinned.uri}"
            return [primary, *kept], rollout.remember_primary(config, current), "deploy", message

        primary_change = canary is None and not shadow
        model_ref = str(ref) if primary_change else None
        rollout.change(self.store, name, apply, actor=self.principal.name, model_ref=model_ref)

    def _apply_change(self, name: str, apply: rollout.Change, *, wait: bool) -> Deployment:
        """Write one rollout change to the store, let the target converge, and (with ``wait``) wait for it."""
        apply, audited = self._governed_change(name, apply)  # governance: authorize now, audit once written
        record = rollout.change(self.store, name, apply, actor=self.principal.name)
        audited()
        target = self.target(record.target)
        status = target.apply_traffic(name)
        if wait:
            status = target.wait_ready(name, self.config.deploy_timeout)
        return self._merge(self.store.get_deployment(name), status)

    def close(self) -> None:
        """Close targets, monitoring and the store; on an ``acting_as`` view this does nothing (its origin owns them)."""
        if self._view:
            return
        shared = self._shared
        if shared.targets:
            for target in shared.targets.values():
                target.close()
        if shared.monitoring is not None:
            shared.monitoring.close()  # waits for the MLflow history it is still logging
        self.store.close()

    # --- governance (issue 6) ---------------------------------------------------------------------------------

    def audit_events(
        self,
        target: str | None = None,
        *,
        since: Any = None,
        until: Any = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """Ledger entries, oldest first; ``target`` like ``deployment/NAME`` or ``model/NAME`` (and below it)."""
        if not 1 <= limit <= 100_000:
            raise InvalidRequest("limit must be between 1 and 100000.")
        return self.audit.events(target, since=since, until=until, actor=by, limit=limit)

    def export_audit(
        self, target: str | None = None, *, format: str = "json", since: Any = None, until: Any = None
    ) -> str:
        """The ledger (or part of it) as CSV or JSON text."""
        if format not in ("json", "csv"):
            raise InvalidRequest(f"Unknown export format {format!r}: use json or csv.")
        events = self.audit.events(target, since=since, until=until, limit=1_000_000)
        return self.audit.to_csv(events) if format == "csv" else self.audit.to_json(events)

    def verify_audit(self) -> ChainReport:
        """Recompute the ledger's hash chain; reports the first entry edited, removed or inserted."""
        return self.audit.verify()

    def served_at(self, deployment: str, at: Any) -> ServedAt:
        """Which model version served ``deployment`` at time ``at`` (ISO text or datetime), from the ledger."""
        return self.audit.served_at(validation.deployment_name(deployment), at)

    def whoami(self) -> WhoAmI:
        """The acting principal, the owner of what this facade creates, and the principal's role."""
        p = self.principal
        return WhoAmI(
            user=p.name, owner=self.user, role=self.governance.role(p), groups=list(p.groups), scopes=sorted(p.scopes)
        )

    def request_approval(
        self, action: str, target: str, payload: dict[str, Any] | None = None
    ) -> Approval:
        """Ask for a protected change; the request carries the candidate's metrics, its baseline and schema diff.

        ``set_alias``: target ``model/NAME@ALIAS``, payload ``{"version": V}``. ``deploy``: target
        ``deployment/NAME``, payload ``{"model": "NAME/VERSION"}`` (or ``{"model": NAME, "version": V}``).
        ``promote``, ``rollback``, ``sync``: target ``deployment/NAME``, no payload; ``set_traffic``: payload
        ``{"weights": {"primary": 80, "canary": 20}}``. These are approved for exactly the serving state they
        propose (shown in the evidence beside the current one).
        """
        payload = dict(payload or {})
        if action in ROLLOUT_ACTIONS:
            return self._request_rollout_approval(action, target, payload)
        owner: str | None = self.user
        if action == "set_alias":
            match = re.fullmatch(r"model/([^@/]+)@([^@/]+)", target or "")
            if not match or "version" not in payload:
                raise InvalidRequest('set_alias approvals need target "model/NAME@ALIAS" and payload {"version": V}.')
            name, alias = validation.model_name(match[1]), validation.alias(match[2])
            candidate = self.registry.version(name, validation.version(payload["version"]))
            baseline_version = self._alias_version(name, alias)
        elif action == "deploy":
            match = re.fullmatch(r"deployment/([^/]+)", target or "")
            if not match or not payload.get("model"):
                raise InvalidRequest('deploy approvals need target "deployment/NAME" and payload {"model": REF}.')
            dep_name = validation.deployment_name(match[1])
            ref = ModelRef.parse(payload["model"])
            resolved = self.registry.resolve(ref)
            candidate = self.registry.version(resolved.name, resolved.version)
            existing = self._existing(dep_name)
            owner = existing.owner if existing is not None else owner
            name = candidate.name
            baseline_version = existing.model_version if existing is not None and existing.model_name == name else None
        else:
            raise InvalidRequest(f"Approvals cover {', '.join(APPROVABLE)}; {action!r} needs none.")
        payload["version"] = candidate.version
        baseline = self.registry.version(name, baseline_version) if baseline_version else None
        evidence = {
            "candidate": {"model": candidate.uri, "metrics": candidate.metrics},
            "baseline": {"model": baseline.uri, "metrics": baseline.metrics} if baseline else None,
            "schema_diff": _schema_diff(baseline.signature if baseline else None, candidate.signature),
        }
        return self.governance.create_request(action, target, payload, evidence, self.principal, owner)

    def approvals(self, status: str | None = None) -> list[Approval]:
        return self.governance.approvals(status)

    def grant(self, approval_id: int, *, comment: str | None = None) -> Approval:
        """Grant a pending request (approver role, and not the requester); the change may then be made once."""
        return self.governance.decide(int(approval_id), self.principal, grant=True, comment=comment)

    def reject(self, approval_id: int, *, comment: str | None = None) -> Approval:
        return self.governance.decide(int(approval_id), self.principal, grant=False, comment=comment)

    def issue_token(self, name: str) -> str:
        """A new bearer token for a deployment's endpoint (the previous one stops working); shown only now."""
        record = self.store.get_deployment(validation.deployment_name(name))
        target = f"deployment/{record.name}"
        self._authorize("issue_token", target=target, owner=record.owner, deployment=record.name)
        token = self.tokens.issue(record.name)
        self._audit("issue_token", target, None, {"token": "issued"}, owner=record.owner)
        return token

    def lineage(self, subject: str) -> LineageChain:
        """The chain deployment -> version -> run -> notebook/commit, for a deployment name or NAME[/VERSION]."""
        deployment = None
        if "/" not in subject and "@" not in subject and self._existing(subject) is not None:
            deployment = self.deployment(subject)
            version = self.registry.version(deployment.model_name, deployment.model_version)
        else:
            version = self.registry.resolve(ModelRef.parse(subject))
        return cards.chain(version, deployment)

    def card(self, name: str, version: str | None = None) -> ModelCard:
        """The model card of a version (latest when omitted), regenerated from MLflow and our records."""
        ref = ModelRef.parse(f"{name}/{version}" if version else name)
        found = self.registry.resolve(ref)
        mv = self.registry.version(found.name, found.version)
        return self._build_card(mv, cards.load_sections(self.registry.client, mv.run_id))

    def update_card(self, name: str, version: str, sections: dict[str, str]) -> ModelCard:
        """Write the human sections (intended_use, limitations) and store the card as artifacts of the version."""
        unknown = set(sections) - set(cards.EDITABLE)
        if unknown:
            raise InvalidRequest(f"Only {', '.join(cards.EDITABLE)} can be edited (got {', '.join(sorted(unknown))}).")
        if any(not isinstance(v, str) or len(v) > 20_000 for v in sections.values()):
            raise InvalidRequest("Card sections must be text of at most 20000 characters.")
        mv = self.registry.version(validation.model_name(name), validation.version(version))
        target = f"model/{mv.name}/{mv.version}"
        self._authorize("update_card", target=target)
        current = cards.load_sections(self.registry.client, mv.run_id)
        card = self._build_card(mv, {**current, **sections})
        cards.store_card(self.registry.client, card, mv.run_id)
        self._audit("update_card", target, current, {k: card.model_dump()[k] for k in cards.EDITABLE})
        return card

    def _build_card(self, mv: ModelVersion, sections: dict[str, str]) -> ModelCard:
        deployed = [
            d.name
            for d in self.store.list_deployments()
            if d.model_name == mv.name and any(v.model_version == mv.version for v in d.variants)
        ]
        approvals = [
            a.model_dump(mode="json", include={"id", "action", "target", "status", "requested_by", "decided_by"})
            for a in self.governance.approvals()
            if a.target.startswith((f"model/{mv.name}@", "deployment/"))
            and str(a.payload.get("version")) == mv.version
            and (a.target.startswith("model/") or a.payload.get("model", "").split("/")[0].split("@")[0] == mv.name)
        ]
        try:
            monitoring = self.monitoring_summary(mv.name, mv.version)
        except Exception:  # a card must render even when monitoring has nothing yet
            monitoring = None
        return cards.build_card(mv, sections=sections, deployments=deployed, approvals=approvals, monitoring=monitoring)

    # --- monitoring (core/monitoring) --------------------------------------------------------------------------

    @property
    def monitoring(self) -> Any:
        """The monitoring service of this facade (created on first use)."""
        shared = self._shared
        with shared.lock:
            if shared.monitoring is None:
                from .monitoring.service import Monitoring

                shared.monitoring = Monitoring(shared.root)  # acts as the facade's owner, whichever view asks
            return shared.monitoring

    def monitor(self, name: str, window: str | float = "1h") -> Any:
        """A MonitoringReport of a deployment over the last ``window`` (ops, drift, performance, health, alerts)."""
        return self.monitoring.report(validation.deployment_name(name), window)

    def feedback(self, name: str, request_ids: Any, labels: Any) -> dict[str, Any]:
        """Ground-truth labels for logged requests (ids from the X-MLOps-Request-Id header); returns the count."""
        result = self.monitoring.feedback(
            validation.deployment_name(name), request_ids, labels, actor=self.principal.name
        )
        self._audit("feedback", f"deployment/{name}", None, {"accepted": result.get("accepted")})
        return result

    def alerts(self, name: str | None = None) -> list[Alert]:
        """Alerts (firing and resolved, newest first) of one deployment or all, after evaluating their rules."""
        found = self.monitoring.alerts(validation.deployment_name(name) if name is not None else None)
        return [Alert.model_validate(a) for a in found]

    def acknowledge_alert(self, alert_id: int) -> Alert:
        """Acknowledge a fired alert (recorded in the audit ledger); it stays firing until its condition clears."""
        if isinstance(alert_id, bool) or not isinstance(alert_id, int) or alert_id < 1:
            raise InvalidRequest(f"Invalid alert id {alert_id!r}: alert ids are positive integers.")
        before, after = self.monitoring.acknowledge(alert_id, self.principal.name)
        target = f"deployment/{after['deployment']}/alert/{alert_id}"
        self._audit("acknowledge_alert", target, before, after)
        return Alert.model_validate(after)

    def alert_rules(self, name: str, rules: list[dict[str, Any]] | None = None) -> list[AlertRule]:
        """A deployment's alert rules; with ``rules``, replace its own rules first (defaults fill the rest)."""
        name = validation.deployment_name(name)
        if rules is None:
            self.store.get_deployment(name)
            found = self.monitoring.rules(name)
        else:
            found = self.monitoring.set_rules(name, rules)
        return [AlertRule.model_validate(r) for r in found]

    def health(self, name: str | None = None, window: str | float = "1h") -> Health:
        """Health score (0-100, green/amber/red) of one deployment, or of the fleet when ``name`` is None."""
        found = self.monitoring.health(validation.deployment_name(name) if name is not None else None, window)
        return parse_health(found)

    def monitoring_summary(self, model_name: str, version: str) -> dict[str, Any] | None:
        """For model cards: the health of the deployments serving a version and whether it has a baseline."""
        return self.monitoring.summary(model_name, version)

    def _record_parity_sample(self, version: ModelVersion, X: Any) -> None:
        """Store a seeded sample of the training rows beside the baseline (``parity_sample_rows``, 0 = off).

        A failure is logged, never raised: the registration stands, and the gate then checks the input example
        only.
        """
        if not version.run_id or self.config.parity_sample_rows <= 0:
            return
        try:
            sample = baselines.parity_sample(X, self.config.parity_sample_rows)
            if sample is None:
                return
            self.registry.log_run_json(version.run_id, baselines.PARITY_SAMPLE_ARTIFACT, sample)
            tag = f"{baselines.PARITY_SAMPLE_ARTIFACT} ({len(sample['data'])} rows)"
            self.registry.set_version_tags(version.name, version.version, {"mlops.data.parity_sample": tag})
        except Exception as exc:
            log.warning("No parity sample for %s/%s: %s", version.name, version.version, exc)

    def _governed_change(
        self, name: str, apply: rollout.Change
    ) -> tuple[rollout.Change, Callable[[], None]]:
        """Authorize a rollout change (traffic, promote, rollback, sync) and return ``apply`` wrapped to learn its
        kind, with a callback that records the change (before and after) in the audit ledger."""
        record = self.store.get_deployment(name)
        target = f"deployment/{name}"
        self._authorize("rollout", target=target, owner=record.owner, deployment=name)
        kinds: list[str] = []
        proposed, note = self._clear_protected_change(record, apply)

        def wrapped(variants: list[Variant], config: DeploymentConfig) -> rollout.Outcome:
            outcome = apply(variants, config)
            if proposed is not None and rollout.describe(outcome[0]) != proposed:
                raise Conflict(
                    f"{target} changed while this change was being approved and made (it would now lead to "
                    f"{rollout.describe(outcome[0])}, not the approved {proposed}); request a new approval."
                )
            kinds.append(outcome[2])
            return outcome

        def audited() -> None:
            action = _ACTION_OF_KIND.get(kinds[-1], kinds[-1]) if kinds else "rollout"
            after = _serving_state(self.store.get_deployment(name))
            self._audit(action, target, _serving_state(record), after, owner=record.owner, detail=note)

        return wrapped, audited

    def _propose(self, name: str, apply: rollout.Change) -> rollout.Outcome:
        """Dry-run a rollout change on the current desired state (nothing is written): what it would do."""
        record = self.store.get_deployment(name)
        return apply(list(record.variants), rollout.config_of(self.store, name))

    def _clear_protected_change(
        self, record: Deployment, apply: rollout.Change
    ) -> tuple[str | None, str | None]:
        """On a protected deployment, use up the approval of exactly the serving state ``apply`` proposes (or raise
        Forbidden, recorded); returns that proposed state and the ledger note, or (None, None) if unprotected."""
        if not self.governance.is_protected_deployment(record.name):
            return None, None
        variants, _config, kind, _message = self._propose(record.name, apply)
        action = _ACTION_OF_KIND.get(kind, kind)
        if not self.governance.is_protected(action, deployment=record.name):
            return None, None
        proposed = rollout.describe(variants)
        hint: dict[str, Any] = {}
        if action == "set_traffic":
            hint = {"weights": {v.name: v.weight for v in variants if v.role != VariantRole.shadow}}
        target = f"deployment/{record.name}"
        note = self.governance.clear_rollout(action, self.principal, record.owner, target, proposed, hint)
        return proposed, note

    def _rollout_change(self, action: str, name: str, payload: dict[str, Any]) -> rollout.Change:
        """The change a rollout action would make, from an approval request's payload."""
        if action == "set_traffic":
            weights = payload.get("weights")
            if not isinstance(weights, dict) or not weights:
                raise InvalidRequest('set_traffic approvals need payload {"weights": {"primary": 80, "canary": 20}}.')
            return _traffic_change(weights)
        if action == "promote":
            return _promote_change
        if action == "rollback":
            return _rollback_change
        record, pinned = self._sync_plan(name)
        current = rollout.primary_of(record.variants)
        if (current.model_name, current.model_version) == (pinned.name, pinned.version):
            raise InvalidRequest(f"{record.model_ref} still resolves to {pinned.uri}; a sync would change nothing.")
        return _sync_change(record.model_ref, pinned)

    def _request_rollout_approval(
        self, action: str, target: str, payload: dict[str, Any]
    ) -> Approval:
        """An approval request for a promote, traffic change, sync or rollback of a deployment, with its evidence:
        current and proposed variants and weights, the favoured version's metrics and its schema difference."""
        match = re.fullmatch(r"deployment/([^/]+)", target or "")
        if not match:
            raise InvalidRequest(f'{action} approvals need target "deployment/NAME".')
        name = validation.deployment_name(match[1])
        record = self.store.get_deployment(name)
        variants, _config, _kind, message = self._propose(name, self._rollout_change(action, name, payload))
        chosen = _candidate_of(record.variants, variants)
        candidate = self.registry.version(chosen.model_name, chosen.model_version)
        current = rollout.primary_of(record.variants)
        baseline = self.registry.version(current.model_name, current.model_version)
        evidence = {
            "change": message,
            "current": [v.model_dump(mode="json") for v in record.variants],
            "proposed": [v.model_dump(mode="json") for v in variants],
            "candidate": {"model": candidate.uri, "metrics": candidate.metrics},
            "baseline": {"model": baseline.uri, "metrics": baseline.metrics},
            "schema_diff": _schema_diff(baseline.signature, candidate.signature),
        }
        request = {
            **({"weights": payload["weights"]} if action == "set_traffic" else {}),
            "proposed": rollout.describe(variants),
            "model": f"{candidate.name}/{candidate.version}",
            "version": candidate.version,
        }
        return self.governance.create_request(action, target, request, evidence, self.principal, record.owner)

    # --- helpers ----------------------------------------------------------------------------------------------

    def _owner_for(self) -> str:
        """Owner of a new resource: the server's user under a hub (whoever acts), else whoever acts."""
        return self.user if self.config.isolate_users else self.principal.name

    def _tokens_required(self) -> bool:
        return bool(self.config.require_deployment_token or self.config.isolate_users)

    def _authorize(
        self, action: str, *, target: str, owner: str | None = None, deployment: str | None = None
    ) -> None:
        self.governance.authorize(
            action, self.principal, owner=owner or self.user, target=target, deployment=deployment
        )

    def _audit(
        self,
        action: str,
        target: str,
        before: Any,
        after: Any,
        *,
        owner: str | None = None,
        outcome: str = "ok",
        detail: str | None = None,
    ) -> None:
        """Append to the ledger as the acting principal; a failed write fails the change (raises Unavailable)."""
        record_or_fail(
            self.audit, action, self.principal.name, owner or self.user, target, before, after, outcome=outcome,
            detail=detail,
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

    @staticmethod
    def _merge(record: Deployment, status: RuntimeStatus | None) -> Deployment:
        if status is None:
            return record.model_copy(
                update={
                    "state": DeploymentState.unknown,
                    "message": "Not running: the serving target does not report this deployment yet.",
                    "steps": [DeploymentStep(name="resolving", status=StepStatus.done, message=record.model_uri)],
                }
            )
        return record.model_copy(
            update={"state": status.state, "steps": status.steps, "message": status.message, "url": status.url}
        )


def _version_state(version: ModelVersion) -> dict[str, Any]:
    return {"model_name": version.name, "model_version": version.version, "run_id": version.run_id}


def _serving_state(record: Deployment | None) -> dict[str, Any] | None:
    """What a deployment serves, as the ledger records it (``served_at`` reads it back)."""
    if record is None:
        return None
    return {
        "model_name": record.model_name,
        "model_version": record.model_version,
        "model_ref": record.model_ref,
        "target": record.target,
        "variants": [v.model_dump(mode="json") for v in record.variants],
    }


def _traffic_change(weights: dict[str, int]) -> rollout.Change:
    """The rollout change that sets traffic weights by variant name or role."""

    def apply(variants: list[Variant], config: DeploymentConfig) -> rollout.Outcome:
        updated = rollout.with_weights(variants, weights)
        return updated, config, "traffic", f"traffic set: {rollout.describe(updated)}"

    return apply


def _promote_change(variants: list[Variant], config: DeploymentConfig) -> rollout.Outcome:
    """The canary (or shadow) becomes the primary; the old primary is remembered for rollback."""
    updated, old, new = rollout.promoted(variants)
    message = f"promoted {new.model_uri} to primary (was {old.model_uri})"
    return updated, rollout.remember_primary(config, old), "promote", message


def _rollback_change(variants: list[Variant], config: DeploymentConfig) -> rollout.Outcome:
    """Drop the canary, or return to the previous primary (remembering the current one)."""
    updated, message = rollout.rolled_back(variants, config.previous_primary)
    current = rollout.primary_of(variants)
    if updated[0].model_uri != current.model_uri:
        config = rollout.remember_primary(config, current)
    return updated, config, "rollback", message


def _sync_change(model_ref: str, pinned: ModelVersion) -> rollout.Change:
    """The rollout change that points the primary at the version an alias-driven reference now resolves to."""

    def apply(variants: list[Variant], config: DeploymentConfig) -> rollout.Outcome:
        old = rollout.primary_of(variants)
        updated = [
            v.model_copy(update={"model_name": pinned.name, "model_version": pinned.version})
            if v.role == VariantRole.primary
            else v
            for v in variants
        ]
        message = f"{model_ref} moved to {pinned.uri} (was {old.model_uri}); redeployed"
        return updated, rollout.remember_primary(config, old), "sync", message

    return apply


# The audited action of each rollout event kind (the others are named alike).
_ACTION_OF_KIND = {"traffic": "set_traffic"}


def _candidate_of(current: list[Variant], proposed: list[Variant]) -> Variant:
    """The variant a rollout change favours: the one gaining the most traffic, else the proposed primary."""

    def shares(variants: list[Variant]) -> dict[str, int]:
        found: dict[str, int] = {}
        for v in variants:
            if v.role != VariantRole.shadow:
                found[v.model_uri] = found.get(v.model_uri, 0) + v.weight
        return found

    before, after = shares(current), shares(proposed)
    gains = {uri: weight - before.get(uri, 0) for uri, weight in after.items()}
    best = max(gains, key=lambda uri: gains[uri], default=None)
    if best is None or gains[best] <= 0:
        return rollout.primary_of(proposed)
    return next(v for v in proposed if v.model_uri == best)


def _schema_diff(baseline: dict[str, Any] | None, candidate: dict[str, Any] | None) -> dict[str, Any]:
    """Input columns added, removed or retyped between the baseline's signature and the candidate's."""

    def columns(signature: dict[str, Any] | None) -> dict[str, str]:
        inputs = (signature or {}).get("inputs") or []
        return {str(c.get("name")): str(c.get("type")) for c in inputs if isinstance(c, dict)}

    old, new = columns(baseline), columns(candidate)
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": {k: [old[k], new[k]] for k in sorted(set(old) & set(new)) if old[k] != new[k]},
    }


def _serving_settings(batching: dict[str, Any] | None, isolated: bool) -> dict[str, Any]:
    """Checked serving settings from deploy arguments (only those given, so existing ones are kept)."""
    settings: dict[str, Any] = {}
    if isolated:  # the local daemon serves it from a supervised worker process of its own
        settings["isolated"] = True
    if batching is not None:
        settings["batching"] = batching_settings(batching)
    return settings


def _predict_fn(model: Any) -> Any:
    if hasattr(model, "predict"):
        return model.predict
    if callable(model):
        return model
    return None


def _signature_and_example(model: Any, X: Any) -> tuple[Any, Any]:
    if X is None:
        return None, None
    from mlflow.models import infer_signature

    example = X.head(5) if hasattr(X, "head") else X[:5]
    fn = _predict_fn(model)
    try:
        output = fn(X) if fn is not None and not _is_python_model(model) else None
    except Exception as exc:
        raise InvalidRequest(
            f"The model failed to predict on X ({type(exc).__name__}: {exc}); pass the features it was trained on."
        ) from None
    return infer_signature(X, output), example


def _is_python_model(model: Any) -> bool:
    import mlflow.pyfunc

    return isinstance(model, mlflow.pyfunc.PythonModel)


def _model_params(model: Any) -> dict[str, Any]:
    """Hyper-parameters of estimators that expose them (scikit-learn's get_params), primitives only."""
    getter = getattr(model, "get_params", None)
    if getter is None:
        return {}
    try:
        params = getter(deep=False)
    except Exception:
        return {}
    return {k: v for k, v in params.items() if isinstance(v, (str, int, float, bool)) or v is None}


def _training_metrics(model: Any, X: Any, y: Any) -> dict[str, float]:
    if X is None or y is None or not hasattr(model, "score"):
        return {}
    try:
        return {"training_score": float(model.score(X, y))}
    except Exception:
        return {}
