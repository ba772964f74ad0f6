"""Typed monitoring records: what the facade returns for health, alerts, alert rules and reports.

They keep the JSON shapes the REST API always had (``model_dump(mode="json")`` is the body), and they are the one
source of the TypeScript types of the sidebar: ``scripts/gen_ts_types.py`` writes ``src/generated/models.ts`` from
their JSON schemas, and a test fails when the committed file differs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Colour = Literal["green", "amber", "red", "unknown"]


class _Record(BaseModel):
    """Base of the monitoring records: extra keys a newer server adds are kept, not dropped.

    ``record["field"]`` and ``record.get("field")`` still read fields, for notebooks written when these were dicts.
    """

    model_config = ConfigDict(extra="allow")

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        """The field ``key``, or ``default`` when it does not exist (dict-style reading)."""
        return getattr(self, key, default)


class HealthComponents(_Record):
    """Each health component in [0, 1] (1 = healthy), or None when the window has no data for it."""

    availability: float | None = None
    latency: float | None = None
    errors: float | None = None
    drift: float | None = None
    performance: float | None = None


class DeploymentHealth(_Record):
    """Health of one deployment: a score from 0 to 100 and its colour; ``unknown`` with no score without data."""

    deployment: str | None = None
    score: float | None
    colour: Colour
    components: HealthComponents = HealthComponents()
    firing_alerts: int = 0


class FleetHealthItem(_Record):
    """One deployment's line in the fleet's health."""

    name: str
    score: float | None
    colour: Colour


class FleetHealth(_Record):
    """Health of the fleet: the mean of its deployments' scores and the worst colour (``unknown`` when empty)."""

    score: float | None
    colour: Colour
    deployments: list[FleetHealthItem] = []


Health = DeploymentHealth | FleetHealth


class AlertRule(_Record):
    """An alert rule: fire when ``metric op threshold`` holds over ``window_seconds``; optional webhook."""

    name: str
    metric: str
    op: str
    threshold: float
    window_seconds: int
    webhook: str | None = None


class Alert(_Record):
    """A fired alert (firing or resolved), with its acknowledgement."""

    id: int
    deployment: str
    rule: str
    metric: str
    value: float | None
    threshold: float
    state: str
    fired_at: str
    resolved_at: str | None = None
    message: str
    delivery: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None


class WhoAmI(_Record):
    """The acting principal, the owner of what this facade creates, and the principal's role."""

    user: str
    owner: str
    role: str
    groups: list[str] = []
    scopes: list[str] = []


def parse_health(data: dict[str, Any]) -> Health:
    """The typed health of a deployment (has ``components``) or of the fleet (has ``deployments``)."""
    if "deployments" in data and "components" not in data:
        return FleetHealth.model_validate(data)
    return DeploymentHealth.model_validate(data)


def monitoring_models() -> list[type[BaseModel]]:
    """The records whose JSON schemas become TypeScript types (in this order)."""
    return [HealthComponents, DeploymentHealth, FleetHealthItem, FleetHealth, AlertRule, Alert, WhoAmI]
