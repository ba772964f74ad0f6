"""Model risk management (SR 11-7, EU AI Act): the inventory, independent validation and periodic review.

Each registered model (and, where it differs, each version) carries inventory fields MLflow has no place for:
purpose and intended use, business and technical owners, a risk tier (``MLOpsConfig.risk_tiers``, highest first),
a lifecycle status, its validation status and date, and the date its next review is due. A validator (the
``validator`` role, or the ``custom:mlops:validate`` hub scope) records validations of versions; the validator may
not be the version's registrant or one of its owners. Deployments matching ``MLOpsConfig.require_validation_for``
serve only versions with an approved validation. A review falls due ``review_interval_days[tier]`` after the last
validation; a model past it raises one alert per due date.

``RiskRegister`` reads and writes the store; the facade (``governance/risk_operations.py``) authorizes, checks
independence and writes the ledger.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from ...config import MLOpsConfig
from ..errors import InvalidRequest
from ..store import Store
from ..store.risk_tables import ModelRiskRow, RetentionRow, ValidationRow

LIFECYCLE = ("development", "validation", "production", "retired")
OUTCOMES = ("approved", "approved_with_conditions", "rejected")
APPROVED = ("approved", "approved_with_conditions")
SEVERITIES = ("low", "medium", "high", "critical")
EvidenceKind = Literal["metrics", "parity", "monitoring", "card"]
EVIDENCE_KINDS: tuple[EvidenceKind, ...] = ("metrics", "parity", "monitoring", "card")
SIX_MONTHS_DAYS = 183.0  # Articles 19 and 26 of the EU AI Act: logs kept at least six months
FIELDS = (
    "purpose",
    "intended_use",
    "business_owner",
    "technical_owner",
    "risk_tier",
    "lifecycle_status",
    "next_review_due",
)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time in UTC (the default clock; tests inject their own)."""
    return datetime.now(UTC)


class InventoryUpdate(BaseModel):
    """A change to inventory fields: only the fields given change (``null`` clears one)."""

    model_config = ConfigDict(extra="forbid")

    purpose: str | None = Field(default=None, max_length=5000)
    intended_use: str | None = Field(default=None, max_length=5000)
    business_owner: str | None = Field(default=None, max_length=255)
    technical_owner: str | None = Field(default=None, max_length=255)
    risk_tier: str | None = None
    lifecycle_status: str | None = None
    next_review_due: date | None = None


class InventoryEntry(BaseModel):
    """The inventory record of a model (``version`` None) or one version, as the register holds it."""

    model: str
    version: str | None = None
    purpose: str | None = None
    intended_use: str | None = None
    business_owner: str | None = None
    technical_owner: str | None = None
    risk_tier: str | None = None
    lifecycle_status: str | None = None
    validation_status: str = "not_validated"
    validated_at: datetime | None = None
    next_review_due: date | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


class Finding(BaseModel):
    """One finding of a validation: how severe, and what it is."""

    model_config = ConfigDict(extra="forbid")

    severity: Literal["low", "medium", "high", "critical"]
    description: str = Field(min_length=1, max_length=5000)


class ValidationRequest(BaseModel):
    """What a validator submits: the outcome, findings, and which evidence to attach (gathered by the facade)."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["approved", "approved_with_conditions", "rejected"]
    findings: list[Finding] = []
    evidence: list[EvidenceKind] = list(EVIDENCE_KINDS)
    comment: str | None = Field(default=None, max_length=5000)


class Validation(BaseModel):
    """A recorded validation of one model version."""

    id: int
    model: str
    version: str
    validator: str
    outcome: str
    findings: list[Finding] = []
    evidence: dict[str, Any] = {}
    comment: str | None = None
    created_at: datetime


class ReviewAlert(BaseModel):
    """A model whose periodic review is overdue (raised once per due date)."""

    model: str
    tier: str | None
    due: date
    days_overdue: int


class RiskSummary(BaseModel):
    """Counts the fleet view shows: models by tier and lifecycle, overdue reviews, production never validated."""

    models: int
    by_tier: dict[str, int]
    by_lifecycle: dict[str, int]
    review_overdue: int
    production_never_validated: int
    overdue: list[str] = []
    never_validated: list[str] = []


class Retention(BaseModel):
    """Retention declared for one deployment (days; 0 = forever; None = the installation's default)."""

    deployment: str
    inference_log_days: float | None = None
    ledger_days: float | None = None
    overridden: bool = False
    updated_by: str | None = None


def _entry(row: ModelRiskRow) -> InventoryEntry:
    return InventoryEntry(
        model=row.model,
        version=row.version or None,
        purpose=row.purpose,
        intended_use=row.intended_use,
        business_owner=row.business_owner,
        technical_owner=row.technical_owner,
        risk_tier=row.risk_tier,
        lifecycle_status=row.lifecycle_status,
        validation_status=row.validation_status,
        validated_at=datetime.fromisoformat(row.validated_at) if row.validated_at else None,
        next_review_due=date.fromisoformat(row.next_review_due) if row.next_review_due else None,
        updated_at=datetime.fromisoformat(row.updated_at),
        updated_by=row.updated_by,
    )


def _validation(row: ValidationRow) -> Validation:
    return Validation(
        id=row.id,
        model=row.model,
        version=row.version,
        validator=row.validator,
        outcome=row.outcome,
        findings=[Finding.model_validate(f) for f in row.findings or []],
        evidence=row.evidence or {},
        comment=row.comment,
        created_at=datetime.fromisoformat(row.created_at),
    )


class RiskRegister:
    """The inventory, validations and retention declarations in our store, checked against the settings."""

    def __init__(self, config: MLOpsConfig, store: Store) -> None:
        self.config = config
        self.store = store

    # --- checks -----------------------------------------------------------------------------------------------

    def check_update(self, update: InventoryUpdate, today: date) -> dict[str, Any]:
        """The fields an update sets, or InvalidRequest listing the allowed values."""
        changes = update.model_dump(exclude_unset=True)
        tiers = list(self.config.risk_tiers)
        if changes.get("risk_tier") is not None and changes["risk_tier"] not in tiers:
            raise InvalidRequest(f"Unknown risk tier {changes['risk_tier']!r}: use one of {', '.join(tiers)}.")
        status = changes.get("lifecycle_status")
        if status is not None and status not in LIFECYCLE:
            raise InvalidRequest(f"Unknown lifecycle status {status!r}: use one of {', '.join(LIFECYCLE)}.")
        due = changes.get("next_review_due")
        if due is not None and due < today:
            raise InvalidRequest(
                f"next_review_due {due.isoformat()} is in the past: give a date from {today.isoformat()} on."
            )
        return changes

    def high_tier(self) -> str | None:
        """The highest risk tier (the first of ``MLOpsConfig.risk_tiers``)."""
        return self.config.risk_tiers[0] if self.config.risk_tiers else None

    def requires_validation(self, deployment: str) -> bool:
        """True when the deployment serves only versions with an approved validation."""
        return any(fnmatch.fnmatchcase(deployment, p) for p in self.config.require_validation_for)

    def review_due(self, tier: str | None, validated: datetime) -> date | None:
        """When the next review falls due after a validation, by the tier's interval (None without one)."""
        days = self.config.review_interval_days.get(tier or "")
        return (validated + timedelta(days=float(days))).date() if days else None

    # --- inventory --------------------------------------------------------------------------------------------

    def entry(self, model: str, version: str | None = None) -> InventoryEntry:
        """The inventory record (an empty one when nothing was set yet)."""
        with self.store.session() as s:
            row = self._row(s, model, version)
            return _entry(row) if row is not None else InventoryEntry(model=model, version=version)

    def entries(self) -> list[InventoryEntry]:
        """Every inventory record of models and versions."""
        with self.store.session() as s:
            return [_entry(r) for r in s.scalars(select(ModelRiskRow).order_by(ModelRiskRow.model, ModelRiskRow.id))]

    @staticmethod
    def _row(s: Any, model: str, version: str | None) -> ModelRiskRow | None:
        query = select(ModelRiskRow).where(ModelRiskRow.model == model, ModelRiskRow.version == (version or ""))
        return s.scalars(query).first()

    def update(
        self, model: str, version: str | None, changes: dict[str, Any], actor: str, now: datetime
    ) -> tuple[InventoryEntry, InventoryEntry]:
        """Apply checked changes; returns the record before and after."""
        with self.store.session() as s:
            row = self._row(s, model, version)
            before = _entry(row) if row is not None else InventoryEntry(model=model, version=version)
            if row is None:
                row = ModelRiskRow(model=model, version=version or "", validation_status="not_validated")
                s.add(row)
            for key, value in changes.items():
                setattr(row, key, value.isoformat() if isinstance(value, date) else value)
            row.updated_at = now.isoformat()
            row.updated_by = actor
            s.flush()
            return before, _entry(row)

    # --- validations ------------------------------------------------------------------------------------------

    def add_validation(
        self, model: str, version: str, validator: str, request: ValidationRequest, evidence: dict[str, Any],
        now: datetime,
    ) -> Validation:  # fmt: skip
        """Store a validation and carry its outcome onto the version's and the model's inventory records."""
        with self.store.session() as s:
            row = ValidationRow(
                model=model,
                version=version,
                validator=validator,
                outcome=request.outcome,
                findings=[f.model_dump() for f in request.findings],
                evidence=evidence,
                comment=request.comment,
                created_at=now.isoformat(),
            )
            s.add(row)
            model_row = self._row(s, model, None)
            tier = model_row.risk_tier if model_row is not None else None
            for key in (version, None):
                record = self._row(s, model, key)
                if record is None:
                    record = ModelRiskRow(model=model, version=key or "", updated_by=validator)
                    s.add(record)
                record.validation_status = request.outcome
                record.validated_at = now.isoformat()
                due = self.review_due(record.risk_tier or tier, now)
                if due is not None and request.outcome in APPROVED:
                    record.next_review_due = due.isoformat()
                record.updated_at = now.isoformat()
                record.updated_by = validator
            s.flush()
            return _validation(row)

    def validations(self, model: str, version: str | None = None) -> list[Validation]:
        """Validations of a model (or one version), newest first."""
        query = select(ValidationRow).where(ValidationRow.model == model).order_by(ValidationRow.id.desc())
        if version is not None:
            query = query.where(ValidationRow.version == version)
        with self.store.session() as s:
            return [_validation(r) for r in s.scalars(query)]

    def approved(self, model: str, version: str) -> Validation | None:
        """The latest validation of the version if it approved it (a later rejection withdraws an approval)."""
        found = self.validations(model, version)
        return found[0] if found and found[0].outcome in APPROVED else None

    # --- periodic review --------------------------------------------------------------------------------------

    def due_alerts(self, today: date) -> list[tuple[InventoryEntry, bool]]:
        """Model records past their review date, each with whether this is its first alert for that date.

        Marks the records alerted, so the next call reports them as already raised.
        """
        found: list[tuple[InventoryEntry, bool]] = []
        with self.store.session() as s:
            query = select(ModelRiskRow).where(ModelRiskRow.version == "", ModelRiskRow.next_review_due.is_not(None))
            for row in s.scalars(query):
                if row.lifecycle_status == "retired" or (row.next_review_due or "") >= today.isoformat():
                    continue
                first = row.review_alerted_for != row.next_review_due
                row.review_alerted_for = row.next_review_due
                found.append((_entry(row), first))
            s.flush()
        return found

    def summary(self, names: list[str], today: date) -> RiskSummary:
        """Counts over the registered models ``names`` (models without a record count as untiered)."""
        by_model = {e.model: e for e in self.entries() if e.version is None}
        by_tier: dict[str, int] = {}
        by_lifecycle: dict[str, int] = {}
        overdue: list[str] = []
        never: list[str] = []
        for name in names:
            entry = by_model.get(name) or InventoryEntry(model=name)
            by_tier[entry.risk_tier or "unassigned"] = by_tier.get(entry.risk_tier or "unassigned", 0) + 1
            life = entry.lifecycle_status or "unassigned"
            by_lifecycle[life] = by_lifecycle.get(life, 0) + 1
            if entry.next_review_due is not None and entry.next_review_due < today and life != "retired":
                overdue.append(name)
            if life == "production" and entry.validated_at is None:
                never.append(name)
        return RiskSummary(
            models=len(names),
            by_tier=by_tier,
            by_lifecycle=by_lifecycle,
            review_overdue=len(overdue),
            production_never_validated=len(never),
            overdue=overdue,
            never_validated=never,
        )

    # --- retention --------------------------------------------------------------------------------------------

    def retention(self, deployment: str) -> Retention:
        """The retention declared for a deployment (fields None when the installation's defaults apply)."""
        with self.store.session() as s:
            row = s.get(RetentionRow, deployment)
            if row is None:
                return Retention(deployment=deployment)
            return Retention(
                deployment=deployment,
                inference_log_days=row.inference_log_days,
                ledger_days=row.ledger_days,
                overridden=row.overridden,
                updated_by=row.updated_by,
            )

    def set_retention(
        self, deployment: str, changes: dict[str, float | None], overridden: bool, actor: str, now: datetime
    ) -> tuple[Retention, Retention]:
        """Store a deployment's declared retention; returns it before and after."""
        before = self.retention(deployment)
        with self.store.session() as s:
            row = s.get(RetentionRow, deployment)
            if row is None:
                row = RetentionRow(deployment=deployment)
                s.add(row)
            for key, value in changes.items():
                setattr(row, key, value)
            row.overridden = overridden
            row.updated_at = now.isoformat()
            row.updated_by = actor
            s.flush()
        return before, self.retention(deployment)


def below_minimum(days: float | None) -> bool:
    """True when a retention in days keeps logs less than six months (0 and None mean forever/unchanged)."""
    return days is not None and 0 < days < SIX_MONTHS_DAYS
