"""Per-deployment serving settings, kept in ``mlops_deployments.config`` (JSON) and read by every target.

Unknown keys are ignored (other features may keep their own keys in the same JSON); values are checked at the
boundary with the ranges below, so a daemon never sees a setting it cannot honour.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InvalidRequest


class _Settings(BaseModel):
    model_config = ConfigDict(extra="ignore")


class BatchingConfig(_Settings):
    """Adaptive micro-batching.

    Concurrent requests are merged into one model call of at most ``max_batch_size`` rows, waiting at most
    ``max_wait_ms`` for company (0 = only what is already queued).
    """

    enabled: bool = True
    max_batch_size: int = Field(default=64, ge=1, le=4096)
    max_wait_ms: float = Field(default=1.0, ge=0, le=1000)


class AutoRollbackConfig(_Settings):
    """Roll a canary back (weight 0) when it answers worse than the primary.

    Worse: over the last ``window`` requests of each, its error rate exceeds the primary's by more than
    ``error_rate_margin`` or its p95 latency by more than ``p95_margin_ms``.
    """

    enabled: bool = True
    window: int = Field(default=200, ge=10, le=10_000)
    min_requests: int = Field(default=20, ge=1, le=10_000)
    error_rate_margin: float = Field(default=0.05, ge=0, le=1)
    p95_margin_ms: float = Field(default=250.0, ge=0)


class PreviousPrimary(_Settings):
    """The primary before the last promote or version change: what ``rollback`` returns to."""

    model_name: str
    model_version: str


class DeploymentConfig(_Settings):
    """Everything about how a deployment is served, beyond which versions it serves."""

    batching: BatchingConfig = BatchingConfig()
    timeout_ms: int = Field(default=30_000, ge=1, le=600_000)
    max_queue: int = Field(default=256, ge=1, le=100_000)
    max_rows: int = Field(default=100_000, ge=1)
    isolated: bool = False
    auto_rollback: AutoRollbackConfig = AutoRollbackConfig()
    previous_primary: PreviousPrimary | None = None

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> DeploymentConfig:
        """The settings stored for a deployment; defaults for anything missing or unreadable (never raises)."""
        try:
            return cls.model_validate(raw or {})
        except ValidationError:
            return cls()

    def merged(self, **changes: Any) -> DeploymentConfig:
        """A copy with ``changes`` applied and checked; bad values raise InvalidRequest naming the setting."""
        data = self.model_dump()
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        try:
            return DeploymentConfig.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()[:5]
            )
            raise InvalidRequest(f"Invalid deployment settings: {problems}.") from None

    def to_json(self, raw: dict[str, Any] | None = None) -> dict[str, Any]:
        """These settings merged over the stored JSON, so keys owned by other features survive."""
        return {**(raw or {}), **self.model_dump(mode="json")}


def batching_settings(value: dict[str, Any] | None) -> dict[str, Any]:
    """A user's ``batching`` argument checked (``{"max_batch_size": 32, "max_wait_ms": 2}``; ``{}`` = defaults)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest('\'batching\' must be an object such as {"max_batch_size": 32, "max_wait_ms": 2}.')
    unknown = sorted(set(value) - set(BatchingConfig.model_fields))
    if unknown:
        raise InvalidRequest(
            f"Unknown batching setting(s) {', '.join(map(repr, unknown))}: use enabled, max_batch_size, max_wait_ms."
        )
    return value


def serving_settings(batching: dict[str, Any] | None, isolated: bool) -> dict[str, Any]:
    """Checked serving settings from deploy arguments (only those given, so existing ones are kept)."""
    settings: dict[str, Any] = {}
    if isolated:  # the local daemon serves it from a supervised worker process of its own
        settings["isolated"] = True
    if batching is not None:
        settings["batching"] = batching_settings(batching)
    return settings
