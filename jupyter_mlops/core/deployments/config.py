"""Per-deployment serving settings, kept in ``mlops_deployments.config`` (JSON) and read by every target.

Unknown keys are ignored (other features may keep their own keys in the same JSON); values are checked at the
boundary with the ranges below, so a daemon never sees a setting it cannot honour.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import InvalidRequest
from ..monitoring.drift import DEFAULT_DRIFT_SHARE, DriftSettings


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


class MonitoringConfig(_Settings):
    """How the deployment's drift is judged (see ``core/monitoring/drift.py``).

    ``thresholds`` by statistic: for the tests (``ks``, ``chisquare``) the report's significance level (split over
    the features with the Bonferroni ``correction``), for the distances the value at which a feature drifts.
    ``drift_share`` is the share of drifted features at which the dataset drifts and the data-drift alert fires.
    """

    numeric_statistic: Literal["auto", "ks", "wasserstein", "psi"] = "auto"
    categorical_statistic: Literal["chisquare", "jensenshannon", "psi"] = "chisquare"
    thresholds: dict[str, float] = {}
    drift_share: float = Field(default=DEFAULT_DRIFT_SHARE, gt=0, le=1)
    correction: Literal["bonferroni", "none"] = "bonferroni"

    @model_validator(mode="after")
    def _checked(self) -> MonitoringConfig:
        try:
            self.drift_settings()
        except InvalidRequest as exc:
            raise ValueError(exc.message) from None
        return self

    def drift_settings(self, base: DriftSettings | None = None) -> DriftSettings:
        """These settings over ``base`` (its sampling and minimum rows kept)."""
        base = base or DriftSettings()
        return DriftSettings(
            numeric_statistic=self.numeric_statistic,
            categorical_statistic=self.categorical_statistic,
            thresholds={**base.thresholds, **self.thresholds},
            drift_share=self.drift_share,
            correction=self.correction,
            min_rows=base.min_rows,
            max_sample=base.max_sample,
            seed=base.seed,
        )


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
    monitoring: MonitoringConfig = MonitoringConfig()
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
                f"{'.'.join(str(p) for p in error['loc'])}: {error['msg'].removeprefix('Value error, ').rstrip('.')}"
                for error in exc.errors()[:5]
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


def serving_settings(
    batching: dict[str, Any] | None, isolated: bool, settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Checked serving settings from deploy arguments (only those given, so existing ones are kept)."""
    settings = settings_changes(settings)
    if isolated:  # the local daemon serves it from a supervised worker process of its own
        settings["isolated"] = True
    if batching is not None:
        settings["batching"] = batching_settings(batching)
    DeploymentConfig().merged(**settings)  # values checked before anything is written
    return settings


class DeploymentSettings(_Settings):
    """The settings a user can read and change on a deployment (``configure``, ``PATCH .../settings``)."""

    timeout_ms: int
    max_queue: int
    max_rows: int
    batching: BatchingConfig
    auto_rollback: AutoRollbackConfig
    monitoring: MonitoringConfig
    isolated: bool

    @classmethod
    def of(cls, config: DeploymentConfig) -> DeploymentSettings:
        """The user-facing part of a deployment's config."""
        return cls.model_validate(config.model_dump(include=set(cls.model_fields)))


# What ``deploy(settings=...)`` and ``configure`` accept; ``isolated`` is chosen at deploy time only.
SETTABLE = ("timeout_ms", "max_queue", "max_rows", "batching", "auto_rollback", "monitoring")
_NESTED: dict[str, type[_Settings]] = {
    "batching": BatchingConfig,
    "auto_rollback": AutoRollbackConfig,
    "monitoring": MonitoringConfig,
}


def settings_changes(changes: Any) -> dict[str, Any]:
    """User setting changes checked for unknown names (``auto_rollback=False`` means ``{"enabled": False}``).

    Values are checked by ``DeploymentConfig.merged``; both raise InvalidRequest naming the setting.
    """
    if changes is None:
        return {}
    if not isinstance(changes, dict):
        raise InvalidRequest(f"Deployment settings must be an object with some of {', '.join(SETTABLE)}.")
    checked: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in SETTABLE:
            hint = " (choose it when deploying)" if key == "isolated" else ""
            raise InvalidRequest(f"Unknown deployment setting {key!r}{hint}: settable are {', '.join(SETTABLE)}.")
        if key == "auto_rollback" and isinstance(value, bool):
            value = {"enabled": value}
        model = _NESTED.get(key)
        if model is not None:
            if not isinstance(value, dict):
                raise InvalidRequest(
                    f"Invalid deployment settings: {key} must be an object with some of "
                    f"{', '.join(model.model_fields)}."
                )
            unknown = sorted(set(value) - set(model.model_fields))
            if unknown:
                raise InvalidRequest(
                    f"Unknown {key} setting(s) {', '.join(map(repr, unknown))}: use {', '.join(model.model_fields)}."
                )
        checked[key] = value
    return checked
