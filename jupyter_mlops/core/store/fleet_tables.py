"""Fleet rollups (issue 9): aggregates of the inference log kept up to date incrementally for the fleet view.

* ``mlops_fleet_rollups``: one row per deployment and hour: requests, errors, 5xx, latency sum and a fixed
  latency histogram (``h0``..``h{n}``, counts at or under ``LATENCY_BOUNDS_MS``) from which percentiles are read;
* ``mlops_fleet_daily``: one row per day for the whole fleet (traffic, and the colour counts last seen that day);
* ``mlops_fleet_summary``: one row per deployment, what the dashboard lists (health, objectives, staleness, ...);
* ``mlops_fleet_state``: the job's watermarks.

The fleet job (``jupyter_mlops.fleet.rollups``) owns all four; nothing else writes them. Shadow copies are not
counted (the same rule as the per-deployment ops metrics). The store's migrations also add an index on the inference
log's ``time``: the job reads "every row since the watermark", which the ``(deployment, time)`` index cannot serve.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .monitoring_tables import InferenceRequestRow
from .tables import Base

# Upper bounds (ms) of the latency histogram; the last bucket is unbounded. 250 is the default objective.
LATENCY_BOUNDS_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 150, 250, 400, 600, 1000, 2000, 5000, 10000)
HISTOGRAM_COLUMNS: tuple[str, ...] = tuple(f"h{i}" for i in range(len(LATENCY_BOUNDS_MS) + 1))


class FleetRollupRow(Base):
    """Traffic of one deployment in one hour (``hour`` = epoch seconds // 3600)."""

    __tablename__ = "mlops_fleet_rollups"

    deployment: Mapped[str] = mapped_column(String(63), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    server_errors: Mapped[int] = mapped_column(Integer, default=0)
    latency_sum: Mapped[float] = mapped_column(Float, default=0.0)
    latency_max: Mapped[float] = mapped_column(Float, default=0.0)
    last_time: Mapped[float] = mapped_column(Float, default=0.0)
    # h0..h15: requests at or under each bound of LATENCY_BOUNDS_MS (h15: above the last one).
    for _name in HISTOGRAM_COLUMNS:
        vars()[_name] = mapped_column(Integer, default=0, nullable=False)
    del _name

    __table_args__ = (Index("ix_mlops_fleet_rollups_hour", "hour"),)


class FleetDailyRow(Base):
    """The fleet's traffic on one day (``day`` = epoch seconds // 86400) and its colour counts that day."""

    __tablename__ = "mlops_fleet_daily"

    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    latency_sum: Mapped[float] = mapped_column(Float, default=0.0)
    active_deployments: Mapped[int] = mapped_column(Integer, default=0)
    green: Mapped[int | None] = mapped_column(Integer, nullable=True)
    amber: Mapped[int | None] = mapped_column(Integer, nullable=True)
    red: Mapped[int | None] = mapped_column(Integer, nullable=True)


class FleetSummaryRow(Base):
    """What the fleet dashboard shows for one deployment, refreshed by the fleet job from the rollups."""

    __tablename__ = "mlops_fleet_summary"

    deployment: Mapped[str] = mapped_column(String(63), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    target: Mapped[str] = mapped_column(String(32), default="local")
    model_ref: Mapped[str] = mapped_column(String(255), default="")
    model_name: Mapped[str] = mapped_column(String(255), default="", index=True)
    model_version: Mapped[str] = mapped_column(String(32), default="")
    variants: Mapped[Any] = mapped_column(JSON, default=list)
    # A cache of MLflow's registry (its owner: the fleet job), refreshed every few minutes.
    aliases: Mapped[Any] = mapped_column(JSON, default=dict)
    latest_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_trained: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_deploy: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_request: Mapped[float | None] = mapped_column(Float, nullable=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    error_rate: Mapped[float] = mapped_column(Float, default=0.0)
    p95_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    mean_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_objective_ms: Mapped[float] = mapped_column(Float, default=250.0)
    drift_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    drift_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    health_score: Mapped[float] = mapped_column(Float, default=100.0, index=True)
    health_colour: Mapped[str] = mapped_column(String(8), default="green", index=True)
    out_of_objective: Mapped[bool] = mapped_column(Boolean, default=False)
    monitored: Mapped[bool] = mapped_column(Boolean, default=False)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    open_alerts: Mapped[int] = mapped_column(Integer, default=0)
    pending_approvals: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[float] = mapped_column(Float, default=0.0)


class FleetStateRow(Base):
    """A named watermark of the fleet job (e.g. ``log`` = the inference-log time processed up to)."""

    __tablename__ = "mlops_fleet_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


FLEET_TABLES = (
    FleetRollupRow.__table__,
    FleetDailyRow.__table__,
    FleetSummaryRow.__table__,
    FleetStateRow.__table__,
)
LOG_TIME_INDEX = Index("ix_mlops_inference_requests_time", InferenceRequestRow.__table__.c.time)
