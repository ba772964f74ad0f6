"""Rollouts: canary and shadow variants, traffic weights, promote, rollback, and the deployment's history.

Pure functions compute the next variant list from the current one (easy to reason about and to test); ``change``
applies one in a single store transaction, bumps the generation (so targets converge) and records an event.
The store keeps the desired state; the previous primary is remembered in the deployment's config JSON, so a
rollback still works after any restart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from ..errors import Conflict, InvalidRequest, NotFound
from ..models import Deployment, RolloutEvent, Variant, VariantRole
from ..store import Store
from ..store.database import _to_record, variant_of
from ..store.tables import DeploymentEventRow, DeploymentRow, VariantRow, utcnow
from .config import DeploymentConfig, PreviousPrimary

MAX_EVENTS = 1000


@dataclass(frozen=True)
class Outcome:
    """What a rollout change leads to: the new variants and serving config, and the event recorded with them."""

    variants: list[Variant]
    config: DeploymentConfig
    kind: str  # the event kind: deploy, canary, shadow, traffic, promote, rollback, sync, auto_rollback
    message: str


# A rollout change: from the current variants and config to the outcome (pure; raise to change nothing).
Change = Callable[[list[Variant], DeploymentConfig], Outcome]


# --- pure transitions ------------------------------------------------------------------------------------------


def primary_of(variants: list[Variant]) -> Variant:
    """The primary variant, or Conflict when the deployment has none."""
    primary = next((v for v in variants if v.role == VariantRole.primary), None)
    if primary is None:
        raise Conflict("The deployment has no primary variant; deploy a model to it first.")
    return primary


def with_canary(variants: list[Variant], model_name: str, version: str, weight: int) -> list[Variant]:
    """Add (or replace) the canary at ``weight`` percent; the primary keeps the rest."""
    if not 0 <= weight <= 100:
        raise InvalidRequest(f"The canary weight must be between 0 and 100 (got {weight}).")
    primary = primary_of(variants)
    rest = [v for v in variants if v.role == VariantRole.shadow]
    canary = Variant(
        name="canary", model_name=model_name, model_version=version, weight=weight, role=VariantRole.canary
    )
    return [primary.model_copy(update={"weight": 100 - weight}), canary, *rest]


def with_shadow(variants: list[Variant], model_name: str, version: str) -> list[Variant]:
    """Add (or replace) the shadow variant: it sees a mirrored copy of every request and answers nobody."""
    primary_of(variants)
    kept = [v for v in variants if v.role != VariantRole.shadow]
    shadow = Variant(name="shadow", model_name=model_name, model_version=version, weight=0, role=VariantRole.shadow)
    return [*kept, shadow]


def with_weights(variants: list[Variant], weights: dict[str, int]) -> list[Variant]:
    """New weights by variant name (or role); answering variants must sum to 100."""
    if not isinstance(weights, dict) or not weights:
        raise InvalidRequest('Traffic weights are required, e.g. {"primary": 80, "canary": 20}.')
    by_name = {v.name: v for v in variants}
    by_role = {v.role.value: v for v in variants}
    updated = {v.name: v.weight for v in variants}
    for key, weight in weights.items():
        variant = by_name.get(key) or by_role.get(key)
        if variant is None:
            known = ", ".join(sorted(by_name))
            raise NotFound(f"The deployment has no variant {key!r}; its variants are {known}.")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise InvalidRequest(f"The weight of {key!r} must be an integer from 0 to 100.")
        if variant.role == VariantRole.shadow and weight:
            raise InvalidRequest(f"{key!r} is a shadow variant: it gets a mirrored copy and takes no weight.")
        updated[variant.name] = weight
    answering = [v for v in variants if v.role != VariantRole.shadow]
    total = sum(updated[v.name] for v in answering)
    if total != 100:
        shown = ", ".join(f"{v.name}={updated[v.name]}" for v in answering)
        raise InvalidRequest(f"The weights of the answering variants must sum to 100 (got {shown}: {total}).")
    return [v.model_copy(update={"weight": updated[v.name]}) for v in variants]


def promoted(variants: list[Variant]) -> tuple[list[Variant], Variant, Variant]:
    """The canary (or, without one, the shadow) becomes the primary at 100%; returns (variants, old, new)."""
    primary = primary_of(variants)
    candidate = next((v for v in variants if v.role == VariantRole.canary), None)
    candidate = candidate or next((v for v in variants if v.role == VariantRole.shadow), None)
    if candidate is None:
        raise Conflict("Nothing to promote: the deployment has no canary or shadow variant.")
    new_primary = candidate.model_copy(update={"name": "primary", "role": VariantRole.primary, "weight": 100})
    kept = [v for v in variants if v.role == VariantRole.shadow and v is not candidate]
    return [new_primary, *kept], primary, new_primary


def rolled_back(variants: list[Variant], previous: PreviousPrimary | None) -> tuple[list[Variant], str]:
    """Drop the canary if there is one (primary back to 100%); else return to the previous primary."""
    primary = primary_of(variants)
    shadows = [v for v in variants if v.role == VariantRole.shadow]
    if any(v.role == VariantRole.canary for v in variants):
        return [primary.model_copy(update={"weight": 100}), *shadows], "removed the canary; primary takes 100%"
    if previous is None:
        raise Conflict("Nothing to roll back to: there is no canary and no previous primary version recorded.")
    back = primary.model_copy(update={"model_name": previous.model_name, "model_version": previous.model_version})
    message = f"primary back to models:/{previous.model_name}/{previous.model_version}"
    return [back, *shadows], message


# --- store ------------------------------------------------------------------------------------------------------


def change(
    store: Store,
    name: str,
    apply: Change,
    *,
    actor: str | None = None,
    model_ref: str | None = None,
    variant: str | None = None,
) -> Deployment:
    """Apply ``apply(variants, config) -> Outcome`` in one transaction.

    New desired state, a new generation, and the event, or nothing at all if ``apply`` raises.
    """
    with store.session() as session:
        row = session.get(DeploymentRow, name)
        if row is None:
            raise NotFound(f"No deployment named {name!r}. List deployments with %deployments.")
        variants = [variant_of(v) for v in row.variants]
        config = DeploymentConfig.load(row.config)
        outcome = apply(variants, config)
        kind, message = outcome.kind, outcome.message
        event_variant = variant or _event_variant(kind, outcome.variants)
        row.variants = [VariantRow(**v.model_dump(mode="json")) for v in outcome.variants]
        row.config = outcome.config.to_json(row.config)
        if model_ref is not None:
            row.model_ref = model_ref
        row.generation += 1
        row.updated_at = utcnow()
        session.add(
            DeploymentEventRow(deployment_name=name, kind=kind, message=message, variant=event_variant, actor=actor)
        )
        session.flush()
        return _to_record(row)


def _event_variant(kind: str, variants: list[Variant]) -> str | None:
    role = {"canary": VariantRole.canary, "shadow": VariantRole.shadow}.get(kind, VariantRole.primary)
    match = next((v for v in variants if v.role == role), None)
    return match.name if match else None


def config_of(store: Store, name: str) -> DeploymentConfig:
    """The deployment's serving config (NotFound if there is no such deployment)."""
    with store.session() as session:
        row = session.get(DeploymentRow, name)
        if row is None:
            raise NotFound(f"No deployment named {name!r}.")
        return DeploymentConfig.load(row.config)


def set_config(store: Store, name: str, config: DeploymentConfig) -> None:
    """Store serving settings without a new generation (call before the target applies the deployment)."""
    with store.session() as session:
        row = session.get(DeploymentRow, name)
        if row is None:
            raise NotFound(f"No deployment named {name!r}.")
        row.config = config.to_json(row.config)


def record_event(
    store: Store, name: str, kind: str, message: str, *, variant: str | None = None, actor: str | None = None
) -> None:
    """Append one event to a deployment's rollout history (no state change)."""
    with store.session() as session:
        session.add(
            DeploymentEventRow(deployment_name=name, kind=kind, message=message[:2000], variant=variant, actor=actor)
        )


def events(store: Store, name: str, limit: int = 100) -> list[RolloutEvent]:
    """The most recent rollout events of ``name``, oldest first."""
    limit = max(1, min(limit, MAX_EVENTS))
    with store.session() as session:
        rows = session.scalars(
            select(DeploymentEventRow)
            .where(DeploymentEventRow.deployment_name == name)
            .order_by(DeploymentEventRow.id.desc())
            .limit(limit)
        ).all()
        return [
            RolloutEvent(time=r.time, kind=r.kind, message=r.message, variant=r.variant, actor=r.actor)
            for r in reversed(rows)
        ]


def auto_rollback(store: Store, name: str, variant: str, reason: str) -> bool:
    """Set ``variant``'s weight to 0 (its share goes to the primary) and record why; False if already done."""
    done = False

    def apply(variants: list[Variant], config: DeploymentConfig) -> Outcome:
        nonlocal done
        target = next((v for v in variants if v.name == variant and v.role == VariantRole.canary), None)
        if target is None or target.weight == 0:
            raise _NothingToDo
        done = True
        primary = primary_of(variants)
        updated = [
            v.model_copy(update={"weight": 0})
            if v.name == variant
            else v.model_copy(update={"weight": v.weight + target.weight})
            if v.name == primary.name
            else v
            for v in variants
        ]
        return Outcome(updated, config, "auto_rollback", f"canary {variant!r} set to weight 0: {reason}")

    try:
        change(store, name, apply, actor="auto-rollback", variant=variant)
    except (_NothingToDo, NotFound):
        return False
    return done


class _NothingToDo(Exception):
    """Raised inside a change to abort its transaction without writing."""


def remember_primary(config: DeploymentConfig, primary: Variant) -> DeploymentConfig:
    """The config with ``primary`` remembered as the one ``rollback`` returns to."""
    return config.model_copy(
        update={"previous_primary": PreviousPrimary(model_name=primary.model_name, model_version=primary.model_version)}
    )


def describe(variants: list[Variant]) -> str:
    """The serving state as one line (``primary=iris/1@80%, canary=iris/2@20%``); approvals pin exactly this."""
    return ", ".join(f"{v.name}={v.model_name}/{v.model_version}@{v.weight}%" for v in variants)
