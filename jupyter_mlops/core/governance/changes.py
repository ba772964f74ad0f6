"""Governed changes.

The rollout changes a deployment can undergo, the approval gate in front of them, and the approval requests (with their
evidence) that open it.

A rollout change is a pure function from the current variants and config to a typed ``Outcome`` (``core/deployments
/rollout.py`` writes it in one transaction). On a protected deployment the gate first dry-runs the change, uses up the
approval of exactly the serving state it proposes, and refuses the write if the deployment moved in between. The facade
(``core/service.py``) delegates here in one line per operation and writes the ledger entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from .. import validation
from ..deployments import rollout
from ..deployments.config import DeploymentConfig
from ..deployments.rollout import Change, Outcome
from ..errors import Conflict, InvalidRequest, NotFound
from ..models import Deployment, ModelRef, ModelVersion, Variant, VariantRole
from ..principal import Principal
from ..registry import Registry
from ..resource import Resource
from ..store import Store
from .policy import APPROVABLE, ROLLOUT_ACTIONS, Approval, Governance

log = logging.getLogger(__name__)

# The audited action of each rollout event kind (the others are named alike).
ACTION_OF_KIND = {"traffic": "set_traffic"}


def action_of(kind: str) -> str:
    """The audited action of a rollout event kind (``traffic`` -> ``set_traffic``)."""
    return ACTION_OF_KIND.get(kind, kind)


# --- the changes --------------------------------------------------------------------------------------------------


def traffic_change(weights: dict[str, int]) -> Change:
    """The rollout change that sets traffic weights by variant name or role."""

    def apply(variants: list[Variant], config: DeploymentConfig) -> Outcome:
        updated = rollout.with_weights(variants, weights)
        return Outcome(updated, config, "traffic", f"traffic set: {rollout.describe(updated)}")

    return apply


def promote_change(variants: list[Variant], config: DeploymentConfig) -> Outcome:
    """The canary (or shadow) becomes the primary; the old primary is remembered for rollback."""
    updated, old, new = rollout.promoted(variants)
    message = f"promoted {new.model_uri} to primary (was {old.model_uri})"
    return Outcome(updated, rollout.remember_primary(config, old), "promote", message)


def rollback_change(variants: list[Variant], config: DeploymentConfig) -> Outcome:
    """Drop the canary, or return to the previous primary (remembering the current one)."""
    updated, message = rollout.rolled_back(variants, config.previous_primary)
    current = rollout.primary_of(variants)
    if updated[0].model_uri != current.model_uri:
        config = rollout.remember_primary(config, current)
    return Outcome(updated, config, "rollback", message)


def sync_change(model_ref: str, pinned: ModelVersion) -> Change:
    """The rollout change that points the primary at the version an alias-driven reference now resolves to."""

    def apply(variants: list[Variant], config: DeploymentConfig) -> Outcome:
        old = rollout.primary_of(variants)
        updated = [
            v.model_copy(update={"model_name": pinned.name, "model_version": pinned.version})
            if v.role == VariantRole.primary
            else v
            for v in variants
        ]
        message = f"{model_ref} moved to {pinned.uri} (was {old.model_uri}); redeployed"
        return Outcome(updated, rollout.remember_primary(config, old), "sync", message)

    return apply


def deploy_onto_change(pinned: ModelVersion, *, canary: int | None, shadow: bool, settings: dict[str, Any]) -> Change:
    """The change a deploy onto an existing deployment makes: add a canary or a shadow, or replace the primary."""
    if canary is not None and shadow:
        raise InvalidRequest("Choose canary=<weight> or shadow=True, not both.")
    if canary is not None and (isinstance(canary, bool) or not isinstance(canary, int)):
        raise InvalidRequest("canary must be an integer weight from 0 to 100.")

    def apply(variants: list[Variant], config: DeploymentConfig) -> Outcome:
        config = config.merged(**settings) if settings else config
        if canary is not None:
            updated = rollout.with_canary(variants, pinned.name, pinned.version, canary)
            return Outcome(updated, config, "canary", f"canary {pinned.uri} at {canary}%")
        if shadow:
            updated = rollout.with_shadow(variants, pinned.name, pinned.version)
            return Outcome(updated, config, "shadow", f"shadow {pinned.uri} gets a mirrored copy of every request")
        current = rollout.primary_of(variants)
        primary = current.model_copy(update={"model_name": pinned.name, "model_version": pinned.version, "weight": 100})
        kept = [v for v in variants if v.role == VariantRole.shadow]
        message = f"replaced the primary {current.model_uri} with {pinned.uri}"
        return Outcome([primary, *kept], rollout.remember_primary(config, current), "deploy", message)

    return apply


# --- what the ledger records --------------------------------------------------------------------------------------


def version_state(version: ModelVersion) -> dict[str, Any]:
    """A version as the ledger records it."""
    return {"model_name": version.name, "model_version": version.version, "run_id": version.run_id}


def serving_state(record: Deployment | None) -> dict[str, Any] | None:
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


# --- the gate -----------------------------------------------------------------------------------------------------


@dataclass
class ClearedChange:
    """A rollout change governance allowed: ``apply`` it with ``rollout.change``, then audit ``action``.

    ``apply`` refuses the write (Conflict) when the deployment moved since the approval was checked; ``action``
    is known once it ran (the change's event kind decides it).
    """

    record: Deployment
    apply: Change
    note: str | None
    kinds: list[str] = field(default_factory=list)

    @property
    def action(self) -> str:
        """The audited action of the change that ran (``rollout`` before it ran)."""
        return action_of(self.kinds[-1]) if self.kinds else "rollout"


class ChangeGate:
    """Authorization, approvals and evidence for the changes one principal makes through the facade."""

    def __init__(
        self, store: Store, registry: Registry, governance: Governance, principal: Principal, owner: str
    ) -> None:
        self.store = store
        self.registry = registry
        self.governance = governance
        self.principal = principal
        self.owner = owner  # the facade's owner: the default owner of what is not yet owned

    def clear(self, name: str, apply: Change) -> ClearedChange:
        """Authorize a rollout change (traffic, promote, rollback, sync).

        On a protected deployment, use up the approval of exactly the state it proposes (or raise Forbidden,
        recorded).
        """
        record = self.store.get_deployment(name)
        resource = Resource.deployment(name)
        self.governance.authorize("rollout", self.principal, owner=record.owner, target=str(resource), deployment=name)
        proposed, note = self._clear_protected(record, apply)
        cleared = ClearedChange(record=record, apply=apply, note=note)

        def checked(variants: list[Variant], config: DeploymentConfig) -> Outcome:
            outcome = apply(variants, config)
            now = rollout.describe(outcome.variants)
            if proposed is not None and now != proposed:
                raise Conflict(
                    f"{resource} changed while this change was being approved and made (it would now lead to "
                    f"{now}, not the approved {proposed}); request a new approval."
                )
            cleared.kinds.append(outcome.kind)
            return outcome

        cleared.apply = checked
        return cleared

    def propose(self, name: str, apply: Change) -> Outcome:
        """Dry-run a rollout change on the current desired state (nothing is written): what it would do."""
        record = self.store.get_deployment(name)
        return apply(list(record.variants), rollout.config_of(self.store, name))

    def _clear_protected(self, record: Deployment, apply: Change) -> tuple[str | None, str | None]:
        """The proposed state and the ledger note of a protected change, or (None, None) if unprotected."""
        if not self.governance.is_protected_deployment(record.name):
            return None, None
        outcome = self.propose(record.name, apply)
        action = action_of(outcome.kind)
        if not self.governance.is_protected(action, deployment=record.name):
            return None, None
        proposed = rollout.describe(outcome.variants)
        hint: dict[str, Any] = {}
        if action == "set_traffic":
            hint = {"weights": {v.name: v.weight for v in outcome.variants if v.role != VariantRole.shadow}}
        target = str(Resource.deployment(record.name))
        note = self.governance.clear_rollout(action, self.principal, record.owner, target, proposed, hint)
        return proposed, note

    def sync_plan(self, name: str) -> tuple[Deployment, ModelVersion]:
        """An alias-driven deployment and the version its reference resolves to now."""
        record = self.store.get_deployment(name)
        ref = ModelRef.parse(record.model_ref)
        if ref.version is not None:
            raise InvalidRequest(
                f"Deployment {name!r} is pinned to {record.model_ref}; only deployments of NAME@ALIAS (or NAME, "
                "the latest version) follow the registry. Deploy NAME@ALIAS to make it alias-driven."
            )
        return record, self.registry.resolve(ref)

    # --- approval requests ------------------------------------------------------------------------------------

    def request(self, action: str, target: str, payload: dict[str, Any]) -> Approval:
        """File an approval request with its evidence (see ``MLOpsAPI.request_approval``)."""
        if action in ROLLOUT_ACTIONS:
            return self._request_rollout(action, target, payload)
        if action == "set_alias":
            resource = _parse_target(target, "model", 'set_alias approvals need target "model/NAME@ALIAS"')
            if resource.alias is None or "version" not in payload:
                raise InvalidRequest('set_alias approvals need target "model/NAME@ALIAS" and payload {"version": V}.')
            name, alias = validation.model_name(resource.name), validation.alias(resource.alias)
            candidate = self.registry.version(name, validation.version(payload["version"]))
            baseline_version = self._alias_version(name, alias)
            owner: str | None = self.owner
        elif action == "deploy":
            resource = _parse_target(target, "deployment", 'deploy approvals need target "deployment/NAME"')
            if resource.alert is not None or not payload.get("model"):
                raise InvalidRequest('deploy approvals need target "deployment/NAME" and payload {"model": REF}.')
            resolved = self.registry.resolve(ModelRef.parse(payload["model"]))
            candidate = self.registry.version(resolved.name, resolved.version)
            existing = self._existing(validation.deployment_name(resource.name))
            owner = existing.owner if existing is not None else self.owner
            name = candidate.name
            baseline_version = existing.model_version if existing is not None and existing.model_name == name else None
        else:
            raise InvalidRequest(f"Approvals cover {', '.join(APPROVABLE)}; {action!r} needs none.")
        payload["version"] = candidate.version
        baseline = self.registry.version(name, baseline_version) if baseline_version else None
        evidence = {
            "candidate": {"model": candidate.uri, "metrics": candidate.metrics},
            "baseline": {"model": baseline.uri, "metrics": baseline.metrics} if baseline else None,
            "schema_diff": schema_diff(baseline.signature if baseline else None, candidate.signature),
        }
        return self.governance.create_request(action, str(resource), payload, evidence, self.principal, owner)

    def rollout_change(self, action: str, name: str, payload: dict[str, Any]) -> Change:
        """The change a rollout action would make, from an approval request's payload."""
        if action == "set_traffic":
            weights = payload.get("weights")
            if not isinstance(weights, dict) or not weights:
                raise InvalidRequest('set_traffic approvals need payload {"weights": {"primary": 80, "canary": 20}}.')
            return traffic_change(weights)
        if action == "promote":
            return promote_change
        if action == "rollback":
            return rollback_change
        record, pinned = self.sync_plan(name)
        current = rollout.primary_of(record.variants)
        if (current.model_name, current.model_version) == (pinned.name, pinned.version):
            raise InvalidRequest(f"{record.model_ref} still resolves to {pinned.uri}; a sync would change nothing.")
        return sync_change(record.model_ref, pinned)

    def _request_rollout(self, action: str, target: str, payload: dict[str, Any]) -> Approval:
        """An approval request for a promote, traffic change, sync or rollback of a deployment, with its evidence.

        Current and proposed variants and weights, the favoured version's metrics and its schema difference.
        """
        resource = _parse_target(target, "deployment", f'{action} approvals need target "deployment/NAME"')
        if resource.alert is not None:
            raise InvalidRequest(f'{action} approvals need target "deployment/NAME".')
        name = validation.deployment_name(resource.name)
        record = self.store.get_deployment(name)
        outcome = self.propose(name, self.rollout_change(action, name, payload))
        chosen = candidate_of(record.variants, outcome.variants)
        candidate = self.registry.version(chosen.model_name, chosen.model_version)
        current = rollout.primary_of(record.variants)
        baseline = self.registry.version(current.model_name, current.model_version)
        evidence = {
            "change": outcome.message,
            "current": [v.model_dump(mode="json") for v in record.variants],
            "proposed": [v.model_dump(mode="json") for v in outcome.variants],
            "candidate": {"model": candidate.uri, "metrics": candidate.metrics},
            "baseline": {"model": baseline.uri, "metrics": baseline.metrics},
            "schema_diff": schema_diff(baseline.signature, candidate.signature),
        }
        request = {
            **({"weights": payload["weights"]} if action == "set_traffic" else {}),
            "proposed": rollout.describe(outcome.variants),
            "model": f"{candidate.name}/{candidate.version}",
            "version": candidate.version,
        }
        return self.governance.create_request(
            action, str(Resource.deployment(name)), request, evidence, self.principal, record.owner
        )

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


def _parse_target(target: str, kind: str, hint: str) -> Resource:
    """The target of an approval request, of the kind its action needs (InvalidRequest with ``hint`` otherwise)."""
    try:
        resource = Resource.parse(target)
    except InvalidRequest:
        raise InvalidRequest(f"{hint}.") from None
    if resource.kind != kind:
        raise InvalidRequest(f"{hint}.")
    return resource


def candidate_of(current: list[Variant], proposed: list[Variant]) -> Variant:
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


def schema_diff(baseline: dict[str, Any] | None, candidate: dict[str, Any] | None) -> dict[str, Any]:
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


def undo_deploy(
    store: Store,
    tokens: Any,
    target: Any,
    name: str,
    existing: Deployment | None,
    previous: DeploymentConfig | None,
    *,
    actor: str | None = None,
) -> None:
    """Compensate a deploy whose ledger entry could not be written: put the desired state back as it was.

    A new deployment is removed (row, token, and from its target); an existing one gets its variants and settings
    back as a new generation, which the target then serves again. Each step is attempted even if one fails, and
    a failure is logged: the caller is already raising the ledger's error.
    """
    steps: list[tuple[str, Any]] = []
    if existing is None:
        steps = [
            ("remove the desired state", lambda: store.delete_deployment(name)),
            ("revoke the token", lambda: tokens.revoke(name)),
            ("unload it from its target", lambda: target.remove(name)),
        ]
    else:
        config = previous or DeploymentConfig()

        def restore(_variants: list[Variant], _config: DeploymentConfig) -> Outcome:
            return Outcome(list(existing.variants), config, "rollback", "deploy undone: the ledger could not record it")

        steps = [
            ("restore the previous desired state", lambda: rollout.change(store, name, restore, actor=actor)),
            ("serve the previous state", lambda: target.apply(name)),
        ]
    for what, step in steps:
        try:
            step()
        except Exception as exc:  # keep undoing; the operator reads this in the log
            log.error("Undoing the unrecorded deploy of %s: could not %s: %s", name, what, exc)
