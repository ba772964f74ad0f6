"""Monitoring tables: the durable inference log, ground-truth feedback, alert rules and fired alerts.

The inference log is split in two so both of its readers stay fast:

* ``mlops_inference_requests``: one narrow row per request (id, time, latency, status, where its data sits),
  for ops metrics and for finding a request again when its label arrives;
* ``mlops_inference_batches``: the sampled inputs and outputs of one writer flush, one row per deployment and
  flush, as a columnar Arrow IPC blob; drift over a million rows reads a thousand blobs, not a million JSON texts.

Times are epoch seconds (float): windows are plain range scans, identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .tables import Base


class InferenceRequestRow(Base):
    """One answered scoring request. ``batch_id``/``row_offset`` locate its rows in a batch (when sampled)."""

    __tablename__ = "mlops_inference_requests"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    deployment: Mapped[str] = mapped_column(String(63))
    variant: Mapped[str] = mapped_column(String(63))
    model_version: Mapped[str] = mapped_column(String(32))
    time: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)
    status: Mapped[int] = mapped_column(Integer)
    n_rows: Mapped[int] = mapped_column(Integer, default=0)
    shadow: Mapped[bool] = mapped_column(Boolean, default=False)
    batch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    row_offset: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (Index("ix_mlops_inference_requests_deployment_time", "deployment", "time"),)


class InferenceBatchRow(Base):
    """Inputs and outputs of the sampled requests of one flush for one deployment (Arrow IPC stream)."""

    __tablename__ = "mlops_inference_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(String(63))
    start_time: Mapped[float] = mapped_column(Float)
    end_time: Mapped[float] = mapped_column(Float)
    n_rows: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_mlops_inference_batches_deployment_end", "deployment", "end_time"),)


class FeedbackRow(Base):
    """The ground truth of one request (a scalar label, or one label per row of a multi-row request)."""

    __tablename__ = "mlops_feedback"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    deployment: Mapped[str] = mapped_column(String(63), index=True)
    label: Mapped[Any] = mapped_column(JSON)
    received_at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str | None] = mapped_column(String(255), nullable=True)


class AlertRuleRow(Base):
    """A user-defined alert rule of one deployment (the defaults need no row)."""

    __tablename__ = "mlops_alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(String(63), index=True)
    name: Mapped[str] = mapped_column(String(63))
    metric: Mapped[str] = mapped_column(String(63))
    op: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float] = mapped_column(Float)
    window_seconds: Mapped[int] = mapped_column(Integer)
    webhook: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (UniqueConstraint("deployment", "name", name="uq_mlops_alert_rules_deployment_name"),)


class AlertRow(Base):
    """One firing of a rule: ``firing`` until the condition clears, then ``resolved``."""

    __tablename__ = "mlops_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(String(63), index=True)
    rule: Mapped[str] = mapped_column(String(63))
    metric: Mapped[str] = mapped_column(String(63))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), default="firing")
    fired_at: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    delivery: Mapped[str | None] = mapped_column(Text, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    acknowledged_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class MonitoringCounterRow(Base):
    """Per-deployment counters the serving daemon adds to at each flush (records dropped on a full queue)."""

    __tablename__ = "mlops_monitoring_counters"

    deployment: Mapped[str] = mapped_column(String(63), primary_key=True)
    dropped: Mapped[int] = mapped_column(Integer, default=0)
    logged: Mapped[int] = mapped_column(Integer, default=0)


MONITORING_TABLES = [
    Base.metadata.tables[name]
    for name in (
        "mlops_inference_requests",
        "mlops_inference_batches",
        "mlops_feedback",
        "mlops_alert_rules",
        "mlops_alerts",
        "mlops_monitoring_counters",
    )
]
