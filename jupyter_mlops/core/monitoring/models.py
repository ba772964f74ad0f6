"""Typed monitoring and governance records.

What the facade returns for reports, drift, ops, health, alerts, alert rules and approval evidence.

They keep the JSON shapes the REST API always had: a record dumps exactly the keys it was given (an optional field never
set is left out rather than sent as null), so ``model_dump(mode="json")`` is the body. They are the one source of the
sidebar's TypeScript types: ``scripts/gen_ts_types.py`` writes ``src/generated/models.ts`` from their JSON schemas, and
a test fails when the committed file differs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

Colour = Literal["green", "amber", "red", "unknown"]


class _Record(BaseModel):
    """Base of the records: extra keys a newer server adds are kept, and unset optional fields are not dumped.

    ``record["field"]`` and ``record.get("field")`` still read fields, for notebooks written when these were dicts.
    """

    model_config = ConfigDict(extra="allow")

    @model_serializer(mode="wrap")
    def _only_given(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            unset = set(type(self).model_fields) - self.model_fields_set
            for key in unset:
                if data.get(key) is None:
                    data.pop(key, None)
        return data

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        """The field ``key``, or ``default`` when it does not exist (dict-style reading)."""
        return getattr(self, key, default)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dict):  # a record equals the dict of its JSON form, as when it was that dict
            return bool(self.model_dump(mode="json") == other)
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]


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


class Histogram(_Record):
    """Counts per bin: numeric bin edges (one more than counts) or category names."""

    bins: list[float | str]
    counts: list[int]


class DriftRow(_Record):
    """Drift of one feature (or the prediction): the primary statistic's verdict, and every statistic computed."""

    feature: str
    statistic: str
    value: float | None
    threshold: float
    drifted: bool
    type: str
    rows: int
    baseline: Histogram | None = None
    live: Histogram | None = None
    ks: float | None = None
    wasserstein: float | None = None
    psi: float | None = None
    chisquare: float | None = None
    jensenshannon: float | None = None
    effective_rows: int | None = None  # independent live draws the test counted (repeated rows count once)
    alpha: float | None = None  # the report's significance level; threshold = alpha / features tested (Bonferroni)


class DatasetDrift(_Record):
    """Drift of a deployment's inputs over a window: per feature, the prediction, and the share that drifted."""

    share: float
    drifted: bool
    rows: int
    sampled: int | None = None
    distinct_rows: int | None = None  # distinct input rows among those compared
    features: list[DriftRow] = []
    prediction: DriftRow | None = None
    message: str | None = None


class OpsBucket(_Record):
    """Traffic of one variant in one time bucket."""

    time: str
    variant: str
    requests: int
    errors: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    throughput_rps: float


class OpsSummary(_Record):
    """Traffic over the whole window (client-facing requests only: shadow copies excluded)."""

    requests: int
    errors: int
    error_rate: float
    server_error_rate: float
    throughput_rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class PerformancePoint(_Record):
    """One performance metric (accuracy, mae, ...) in one time bucket, from ground-truth feedback."""

    time: str
    metric: str
    value: float | None


class EstimatedPerformancePoint(_Record):
    """One metric in one time bucket estimated without labels, its 95 % band, and the realized value from feedback."""

    time: str
    metric: str
    estimate: float
    lower: float | None
    upper: float | None
    realized: float | None = None


class EstimatedValue(_Record):
    """One metric estimated over a whole window: the estimate, its 95 % band, and the realized value from feedback."""

    estimate: float
    lower: float | None
    upper: float | None
    realized: float | None = None


class EstimationStatus(_Record):
    """Whether performance can be estimated without labels, why not, and the window's estimates per metric."""

    available: bool
    reason: str = ""
    method: str | None = None  # "CBPE" (classifiers) or "DLE" (regressors)
    rows: int = 0
    summary: dict[str, EstimatedValue] = {}


class MultivariateDriftPoint(_Record):
    """PCA reconstruction error of one time bucket's rows against the band of the reference's own error."""

    time: str
    rows: int
    reconstruction_error: float
    lower: float
    upper: float
    drifted: bool


class DataQualityRow(_Record):
    """Data quality of one feature in one time bucket: counts and rates of each kind of problem."""

    time: str
    feature: str
    rows: int
    missing: int
    missing_rate: float
    out_of_range: int
    out_of_range_rate: float
    unseen_category: int
    unseen_category_rate: float
    type_mismatch: int
    type_mismatch_rate: float


class MonitoringReportData(_Record):
    """A deployment's monitoring over one window: ops, drift, performance, health and alerts (the REST body)."""

    deployment: str
    window: str
    start: str
    end: str
    model: str
    summary: OpsSummary
    ops: list[OpsBucket]
    drift: DatasetDrift | None
    performance: list[PerformancePoint]
    performance_summary: dict[str, float]
    health: DeploymentHealth
    alerts: list[Alert]
    dropped_records: int
    estimated_performance: list[EstimatedPerformancePoint] | None = None  # None in reports made before estimation
    estimation: EstimationStatus | None = None
    multivariate_drift: list[MultivariateDriftPoint] | None = None  # None in reports made before it existed
    data_quality: list[DataQualityRow] | None = None


class VersionEvidence(_Record):
    """A model version as an approver sees it: its URI and metrics."""

    model: str
    metrics: dict[str, Any] = {}


class SchemaDiff(_Record):
    """Input columns added, removed or retyped between the baseline's signature and the candidate's."""

    added: list[str] = []
    removed: list[str] = []
    changed: dict[str, list[str]] = {}


class ApprovalEvidence(_Record):
    """What an approver sees.

    The candidate and its baseline, their schema difference, and for rollout changes the current and proposed variants
    and what the change does.
    """

    candidate: VersionEvidence | None = None
    baseline: VersionEvidence | None = None
    schema_diff: SchemaDiff | None = None
    change: str | None = None
    current: list[dict[str, Any]] | None = None
    proposed: list[dict[str, Any]] | None = None


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
    return [
        HealthComponents,
        DeploymentHealth,
        FleetHealthItem,
        FleetHealth,
        AlertRule,
        Alert,
        Histogram,
        DriftRow,
        DatasetDrift,
        OpsBucket,
        OpsSummary,
        PerformancePoint,
        EstimatedPerformancePoint,
        EstimatedValue,
        EstimationStatus,
        MultivariateDriftPoint,
        DataQualityRow,
        MonitoringReportData,
        VersionEvidence,
        SchemaDiff,
        ApprovalEvidence,
        WhoAmI,
    ]
