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
from typing import Any

from typing_extensions import override

from ..config import MLOpsConfig
from . import lineage, payloads, registration, validation
from .deployments import rollout
from .deployments.config import DeploymentConfig, DeploymentSettings, serving_settings, settings_changes
from .errors import InvalidRequest, MLOpsError, NotFound, Unavailable
from .facade_base import SharedState
from .governance import AuditLedger, DeploymentTokens, Governance
from .governance.changes import (
    deploy_onto_change,
    promote_change,
    rollback_change,
    serving_state,
    sync_change,
    traffic_change,
    undo_deploy,
    version_state,
)
from .governance.operations import GovernanceOperations
from .governance.risk_operations import RiskOperations
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
from .monitoring.operations import MonitoringOperations
from .principal import Principal
from .registry import Registry
from .resource import Resource
from .store import Store
from .targets import ProgressCallback, Target

log = logging.getLogger(__name__)


def deployment_name_for(model_name: str) -> str:
    """A valid deployment name derived from a model name (``Churn_Model`` -> ``churn-model``)."""
    name = re.sub(r"[^a-z0-9-]+", "-", model_name.lower()).strip("-")[: validation.MAX_NAME_LENGTH].strip("-")
    return name or "model"


class MLOps(GovernanceOperations, MonitoringOperations, RiskOperations):
    """Register, catalog, deploy and call models as one principal. Thread-safe; one instance per process is enough.

    The registry and deployment operations live here; governance and monitoring in their rooms (the bases).
    """

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
        self._shared = SharedState(self, targets)  # shared with every acting_as view
        # Governance: the append-only ledger, roles/approvals, and per-deployment tokens.
        self.audit = AuditLedger(self.store)
        self.governance = Governance(self.config, self.store, self.audit)
        self.tokens = DeploymentTokens(self.store)

    def acting_as(self, principal: Principal, *, owner: str | None = None) -> MLOps:
        """A cheap view of this facade acting as ``principal``.

        The view shares registry, store, targets, governance and monitoring with this facade; what it creates is
        owned by ``owner`` (default: this facade's user, as on a user's own server, where the server's user owns
        everything made there). Doors build one per authenticated caller (the REST door per request); a service
        acting for many users passes ``owner=principal.name``.
        """
        view = copy.copy(self)
        view._principal = principal
        view.user = owner or self.user
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
        reference: Any = None,
    ) -> ModelVersion:
        name = validation.model_name(name)
        alias = validation.alias(alias) if alias else None
        self._authorize("register", Resource.model(name))
        checked = registration.check_reference(self.registry, model, X, reference)  # refused before anything is logged
        all_tags = {**lineage.capture(X, notebook=notebook, user=self.principal.name), **(tags or {})}
        version = registration.log_version(
            self.registry, model, name, X, y, tags=all_tags, description=description, params=params, metrics=metrics
        )
        if X is not None:
            self.monitoring.record_baseline(version, model, X)  # training profile, an artifact of the version's run
            # governance: training rows the parity gate replays at deploy
            registration.record_parity_sample(self.registry, version, X, self.config.parity_sample_rows)
        registration.record_reference(self.registry, version, checked)  # labelled held-out rows, for estimates
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
        settings: dict[str, Any] | None = None,
    ) -> Deployment:
        spec = DeploymentSpec(model=model, name=name, target=target or self.config.default_target, wait=wait)
        ref = ModelRef.parse(spec.model)
        deploy_target = self.target(spec.target)
        pinned = self.registry.resolve(ref)
        dep_name = spec.name or deployment_name_for(ref.name)
        existing = self._existing(dep_name)
        previous = rollout.config_of(self.store, dep_name) if existing is not None else None
        owner = existing.owner if existing is not None else self._owner_for()
        resource = Resource.deployment(dep_name)
        self._authorize("deploy", resource, owner=owner)
        self._require_validation(dep_name, pinned, owner)  # model risk: protected deployments serve validated versions
        if self.governance.is_protected("deploy", deployment=dep_name):
            self.governance.require_approval(
                "deploy", self.principal, owner, str(resource), pinned.version, model=f"{pinned.name}/{pinned.version}"
            )
        checked = serving_settings(batching, isolated or self.config.isolate_deployments, settings)
        if canary is not None or shadow or (replace and self._exists(dep_name)):
            self._roll_out(dep_name, ref, pinned, canary=canary, shadow=shadow, settings=checked)
        else:
            variants = [Variant(model_name=pinned.name, model_version=pinned.version, role=VariantRole.primary)]
            self.store.create_deployment(
                dep_name, owner=owner, target=spec.target, model_ref=str(ref), variants=variants,
                config=DeploymentConfig().merged(**checked).to_json(),
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
        try:
            self._audit("deploy", resource, before, after, owner=owner)
        except MLOpsError:  # an unrecorded change must not stand: put serving back as it was
            undo_deploy(self.store, self.tokens, deploy_target, dep_name, existing, previous, actor=owner)
            raise
        return self.store.get_deployment(dep_name).observed(status)

    @override
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
        given = {
            "timeout_ms": timeout_ms, "max_queue": max_queue, "max_rows": max_rows, "batching": batching,
            "auto_rollback": auto_rollback, "monitoring": monitoring,
        }  # fmt: skip
        changes = {key: value for key, value in given.items() if value is not None}
        name = validation.deployment_name(name)
        record = self.store.get_deployment(name)
        resource = Resource.deployment(name)
        if not changes:
            self._authorize("read", resource, owner=record.owner)
            return DeploymentSettings.of(rollout.config_of(self.store, name))
        checked = settings_changes(changes)
        self._authorize("configure", resource, owner=record.owner)
        before = DeploymentSettings.of(rollout.config_of(self.store, name))
        message = "settings changed: " + ", ".join(sorted(checked))

        def apply(variants: list[Variant], config: DeploymentConfig) -> rollout.Outcome:
            return rollout.Outcome(variants, config.merged(**checked), "configure", message)

        rollout.change(self.store, name, apply, actor=self.principal.name)
        after = DeploymentSettings.of(rollout.config_of(self.store, name))
        self._audit(
            "configure", resource, before.model_dump(mode="json"), after.model_dump(mode="json"), owner=record.owner
        )
        target = self.target(record.target)
        target.apply(name)  # a new generation (models stay loaded): the target serves with the new settings
        target.wait_ready(name, self.config.deploy_timeout)
        return after

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
