"""Tables of model risk management (issue 17): inventory fields, validations and per-deployment retention.

MLflow stays the system of record for models and versions; these rows hold only what MLflow has no place for
(SR 11-7 inventory fields, independent validations, retention declared per deployment). Every change to them is
also written to the audit ledger with its full before/after state, which is what an inventory "as of a date"
is rebuilt from.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .tables import Base


class ModelRiskRow(Base):
    """Inventory fields of a registered model (``version`` empty) or of one of its versions."""

    __tablename__ = "mlops_model_risk"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[str] = mapped_column(String(32), default="")
    purpose: Mapped[str | None] = mapped_column(Text, nullable=True)
    intended_use: Mapped[str | None] = mapped_column(Text, nullable=True)
    business_owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    technical_owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    risk_tier: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lifecycle_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    validation_status: Mapped[str] = mapped_column(String(32), default="not_validated")
    validated_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    next_review_due: Mapped[str | None] = mapped_column(String(10), nullable=True)
    # The due date a "review overdue" alert was raised for, so it is raised once per due date.
    review_alerted_for: Mapped[str | None] = mapped_column(String(10), nullable=True)
    updated_at: Mapped[str] = mapped_column(String(40))
    updated_by: Mapped[str] = mapped_column(String(255))

    __table_args__ = (UniqueConstraint("model", "version", name="uq_mlops_model_risk_model_version"),)


class ValidationRow(Base):
    """One independent validation of a model version, with its findings and the evidence it looked at."""

    __tablename__ = "mlops_validations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[str] = mapped_column(String(32))
    validator: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(32))
    findings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[str] = mapped_column(String(40))


class RetentionRow(Base):
    """Retention declared for one deployment's inference log and ledger entries (days; 0 = forever)."""

    __tablename__ = "mlops_retention"

    deployment: Mapped[str] = mapped_column(String(63), primary_key=True)
    inference_log_days: Mapped[float | None] = mapped_column(Float, nullable=True)
    ledger_days: Mapped[float | None] = mapped_column(Float, nullable=True)
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[str] = mapped_column(String(40))
    updated_by: Mapped[str] = mapped_column(String(255))


RISK_TABLES = (ModelRiskRow.__table__, ValidationRow.__table__, RetentionRow.__table__)
