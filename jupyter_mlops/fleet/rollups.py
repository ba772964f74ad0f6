"""The fleet job: keeps the fleet tables up to date from the inference log, incrementally.

Each ``update()``:

1. re-aggregates the *open* hourly buckets only: every inference-log row from the hour holding
   ``watermark - grace`` up to now (one ``INSERT ... SELECT ... GROUP BY`` in the database; rows written late,
   up to ``grace`` seconds after their time, still land in their bucket), then moves the watermark to now;
2. rolls the touched days up into ``mlops_fleet_daily``;
3. refreshes every deployment's summary row from the rollups of the health window (hourly rows, never the raw
   log), the firing alerts, pending approvals and, every few minutes, MLflow's aliases and versions; drift is
   computed for at most ``drift_per_cycle`` deployments with new logged inputs per run.

The health score is core's formula (``core/monitoring/health.py``) over the window's rollups; the fleet knows the
desired state only (not each target's observed state), so availability is the share of non-5xx answers, and
accuracy (ground truth) is left to the per-deployment monitoring. Latency percentiles come from the rollups'
histogram: the reported p95 is the upper bound of the bucket holding it (never lower than the exact value).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, and_, case, cast, delete, func, insert, literal, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from ..core.monitoring import health as health_score
from ..core.store.fleet_tables import (
    HISTOGRAM_COLUMNS,
    LATENCY_BOUNDS_MS,
    FleetDailyRow,
    FleetRollupRow,
    FleetStateRow,
    FleetSummaryRow,
)
from ..core.store.governance_tables import ApprovalRow
from ..core.store.monitoring_tables import AlertRow, InferenceBatchRow, InferenceRequestRow
from ..core.store.schema import upgrade as ensure_tables
from ..core.store.tables import DeploymentRow, VariantRow

if TYPE_CHECKING:
    from ..core.service import MLOps

log = logging.getLogger(__name__)

HOUR = 3600
DAY = 86400
WATERMARK = "log"
MODELS_REFRESHED = "models"


@dataclass
class FleetSettings:
    """Tunables of the fleet job (``python -m jupyter_mlops.fleet --help`` sets them)."""

    window_hours: int = 24  # health, error rate and p95 over this many hourly buckets
    stale_days: float = 30.0  # no traffic, or no new model version, for this long: stale
    latency_objective_ms: float = 250.0
    error_budget: float = 0.05
    grace_seconds: float = 300.0  # rows may be written this long after their time and still be counted
    model_refresh_seconds: float = 300.0  # MLflow aliases/versions are re-read this often
    drift_interval_seconds: float = 900.0  # a deployment's drift is recomputed at most this often
    drift_per_cycle: int = 20
    drift_window_seconds: float = 3600.0


def _hour_of(engine: Engine, column: Any) -> ColumnElement[Any]:
    """``floor(time / 3600)`` as an integer, the same on SQLite (CAST truncates) and PostgreSQL (CAST rounds)."""
    if engine.dialect.name == "sqlite":
        return cast(column / HOUR, Integer)
    return cast(func.floor(column / HOUR), Integer)


def _latency_bucket(column: Any) -> ColumnElement[Any]:
    """The histogram bucket of a latency: the first bound at or over it (``len(bounds)`` above the last)."""
    return case(*[(column <= bound, k) for k, bound in enumerate(LATENCY_BOUNDS_MS)], else_=len(LATENCY_BOUNDS_MS))


def percentile(histogram: Sequence[int], q: float, latency_max: float | None = None) -> float | None:
    """The ``q`` quantile (0-1, nearest rank) read from a latency histogram: its bucket's upper bound."""
    total = sum(histogram)
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for count, bound in zip(histogram, [*LATENCY_BOUNDS_MS, math.inf], strict=True):
        seen += count
        if seen >= rank:
            if math.isinf(bound) or (latency_max is not None and latency_max < bound):
                return float(latency_max) if latency_max is not None else float(LATENCY_BOUNDS_MS[-1])
            return float(bound)
    return float(latency_max) if latency_max is not None else None


class FleetRollups:
    """Maintains the fleet tables of one store. ``mlops`` (optional) gives MLflow metadata and drift baselines."""

    def __init__(self, engine: Engine, settings: FleetSettings | None = None, mlops: MLOps | None = None) -> None:
        self.engine = engine
        self.settings = settings or FleetSettings()
        self.mlops = mlops
        ensure_tables(engine)  # the whole schema, by the store's migrations
        self._models: dict[str, dict[str, Any]] = {}
        self._models_read_at = 0.0

    # --- the watermark --------------------------------------------------------------------------------------

    def watermark(self) -> float | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(FleetStateRow.value).where(FleetStateRow.name == WATERMARK)).scalar()
        return None if value is None else float(value)

    @staticmethod
    def _set_state(conn: Connection, name: str, value: float) -> None:
        changed = conn.execute(update(FleetStateRow).where(FleetStateRow.name == name).values(value=value)).rowcount
        if not changed:
            conn.execute(insert(FleetStateRow).values(name=name, value=value))

    # --- one run ----------------------------------------------------------------------------------------------

    def update(self, now: float | None = None) -> dict[str, Any]:
        """Bring the rollups and summaries up to ``now``; returns what was done (for logs and benchmarks)."""
        now = time.time() if now is None else float(now)
        started = time.perf_counter()
        watermark = self.watermark()
        r = InferenceRequestRow
        with self.engine.begin() as conn:
            if watermark is None:  # first run: everything logged so far
                first = conn.execute(select(func.min(r.time))).scalar()
                open_from = int((float(first) if first is not None else now) // HOUR)
            else:
                open_from = int((watermark - self.settings.grace_seconds) // HOUR)
            rows = self._aggregate(conn, open_from, now)
            self._roll_days(conn, open_from)
            self._set_state(conn, WATERMARK, now)
        aggregated = time.perf_counter() - started
        summaries = self.refresh_summaries(now, since_hour=open_from if watermark is not None else None)
        return {
            "open_from": open_from * HOUR,
            "buckets": rows,
            "deployments": summaries,
            "aggregate_seconds": aggregated,
            "seconds": time.perf_counter() - started,
        }

    def _aggregate(self, conn: Connection, open_from: int, now: float) -> int:
        """Replace the open hourly buckets (``hour >= open_from``) by a fresh aggregate of the log."""
        r = InferenceRequestRow
        hour = _hour_of(self.engine, r.time).label("hour")
        bucket = _latency_bucket(r.latency_ms).label("bucket")
        # Two stages: each log row is classified once (hour, latency bucket) and counted in a small group; the
        # groups are then pivoted into one row per deployment and hour (16 CASEs per row cost three times more).
        groups = (
            select(
                r.deployment,
                hour,
                bucket,
                func.count().label("requests"),
                func.sum(case((r.status >= 400, 1), else_=0)).label("errors"),
                func.sum(case((r.status >= 500, 1), else_=0)).label("server_errors"),
                func.sum(r.latency_ms).label("latency_sum"),
                func.max(r.latency_ms).label("latency_max"),
                func.max(r.time).label("last_time"),
            )
            .where(and_(r.time >= open_from * HOUR, r.time < now, r.shadow == literal(False)))
            .group_by(r.deployment, hour, bucket)
            .subquery()
        )
        g = groups.c
        source = select(
            g.deployment,
            g.hour,
            func.sum(g.requests),
            func.sum(g.errors),
            func.sum(g.server_errors),
            func.sum(g.latency_sum),
            func.max(g.latency_max),
            func.max(g.last_time),
            *[func.sum(case((g.bucket == k, g.requests), else_=0)) for k in range(len(HISTOGRAM_COLUMNS))],
        ).group_by(g.deployment, g.hour)
        columns = ["deployment", "hour", "requests", "errors", "server_errors", "latency_sum", "latency_max"]
        columns += ["last_time", *HISTOGRAM_COLUMNS]
        conn.execute(delete(FleetRollupRow).where(FleetRollupRow.hour >= open_from))
        conn.execute(insert(FleetRollupRow).from_select(columns, source))
        return int(conn.execute(select(func.count()).where(FleetRollupRow.hour >= open_from)).scalar_one())

    def _roll_days(self, conn: Connection, open_from: int) -> None:
        """Recompute the fleet's traffic of the days the open buckets belong to (colour counts are kept)."""
        u = FleetRollupRow
        first_day = open_from // 24
        day = (u.hour // 24).label("day")
        totals = conn.execute(
            select(
                day,
                func.sum(u.requests),
                func.sum(u.errors),
                func.sum(u.latency_sum),
                func.count(func.distinct(u.deployment)),
            )
            .where(u.hour >= first_day * 24)
            .group_by(day)
        ).all()
        for d, requests, errors, latency_sum, active in totals:
            values = {
                "requests": int(requests or 0),
                "errors": int(errors or 0),
                "latency_sum": float(latency_sum or 0.0),
                "active_deployments": int(active or 0),
            }
            changed = conn.execute(update(FleetDailyRow).where(FleetDailyRow.day == int(d)).values(**values)).rowcount
            if not changed:
                conn.execute(insert(FleetDailyRow).values(day=int(d), **values))

    # --- summaries --------------------------------------------------------------------------------------------

    def refresh_summaries(self, now: float | None = None, since_hour: int | None = None) -> int:
        """Rewrite every deployment's summary row from the rollups of the health window; returns their number.

        ``since_hour``: only buckets from this hour on changed since the last refresh (the last request of the
        others is taken from their previous summary); None reads every bucket.
        """
        now = time.time() if now is None else float(now)
        settings = self.settings
        with self.engine.connect() as conn:
            deployments = self._deployments(conn)
            previous = {row.deployment: row for row in conn.execute(select(FleetSummaryRow))}
            window = self._window_totals(conn, int(now // HOUR) - settings.window_hours + 1)
            u = FleetRollupRow
            recent = select(u.deployment, func.max(u.last_time)).group_by(u.deployment)
            if since_hour is not None:
                recent = recent.where(u.hour >= since_hour)
            last_seen = {name: row.last_request for name, row in previous.items() if since_hour is not None}
            for name, last in conn.execute(recent):
                last_seen[name] = max(float(last), last_seen.get(name) or 0.0)
            firing = dict(
                conn.execute(
                    select(AlertRow.deployment, func.count())
                    .where(AlertRow.state == "firing")
                    .group_by(AlertRow.deployment)
                ).all()
            )
            pending = [t for (t,) in conn.execute(select(ApprovalRow.target).where(ApprovalRow.status == "pending"))]
        models = self._model_metadata({d["model_name"] for d in deployments}, now)
        drift = self._drift(deployments, previous, now)
        rows = []
        for dep in deployments:
            name = dep["deployment"]
            rows.append(
                self._summary(dep, window.get(name), last_seen.get(name), firing.get(name, 0), pending,
                              models.get(dep["model_name"]), previous.get(name), drift.get(name), now)
            )  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(delete(FleetSummaryRow))
            if rows:
                conn.execute(insert(FleetSummaryRow), rows)
            counts = {c: sum(1 for row in rows if row["health_colour"] == c) for c in health_score.COLOURS}
            day = int(now // DAY)
            if not conn.execute(update(FleetDailyRow).where(FleetDailyRow.day == day).values(**counts)).rowcount:
                conn.execute(insert(FleetDailyRow).values(day=day, **counts))
        return len(rows)

    def _deployments(self, conn: Connection) -> list[dict[str, Any]]:
        d, v = DeploymentRow, VariantRow
        variants: dict[str, list[dict[str, Any]]] = {}
        query = select(v.deployment_name, v.name, v.model_name, v.model_version, v.weight, v.role).order_by(v.id)
        for dep, name, model, version, weight, role in conn.execute(query):
            variants.setdefault(dep, []).append(
                {"name": name, "model_name": model, "model_version": version, "weight": weight, "role": role}
            )
        out = []
        for name, owner, target, ref, updated in conn.execute(
            select(d.name, d.owner, d.target, d.model_ref, d.updated_at).order_by(d.name)
        ):
            mine = variants.get(name, [])
            primary = next((x for x in mine if x["role"] == "primary"), mine[0] if mine else None)
            out.append(
                {
                    "deployment": name,
                    "owner": owner,
                    "target": target,
                    "model_ref": ref,
                    "model_name": primary["model_name"] if primary else "",
                    "model_version": primary["model_version"] if primary else "",
                    "variants": mine,
                    "last_deploy": _epoch(updated),
                }
            )
        return out

    @staticmethod
    def _window_totals(conn: Connection, from_hour: int) -> dict[str, dict[str, Any]]:
        u = FleetRollupRow
        sums = [func.sum(getattr(u, c)) for c in ("requests", "errors", "server_errors", "latency_sum")]
        hist = [func.sum(u.__table__.c[c]) for c in HISTOGRAM_COLUMNS]
        query = (
            select(u.deployment, *sums, func.max(u.latency_max), *hist)
            .where(u.hour >= from_hour)
            .group_by(u.deployment)
        )
        out = {}
        for row in conn.execute(query):
            out[row[0]] = {
                "requests": int(row[1] or 0),
                "errors": int(row[2] or 0),
                "server_errors": int(row[3] or 0),
                "latency_sum": float(row[4] or 0.0),
                "latency_max": float(row[5] or 0.0),
                "histogram": [int(x or 0) for x in row[6:]],
            }
        return out

    def _summary(
        self,
        dep: dict[str, Any],
        window: dict[str, Any] | None,
        last_request: float | None,
        firing: int,
        pending: list[str],
        model: dict[str, Any] | None,
        previous: Any,
        drift_share: float | None,
        now: float,
    ) -> dict[str, Any]:
        s = self.settings
        window = window or {"requests": 0, "errors": 0, "server_errors": 0, "latency_sum": 0.0, "histogram": []}
        n = window["requests"]
        p95 = percentile(window["histogram"], 0.95, window.get("latency_max")) if n else None
        ops = {
            "requests": n,
            "error_rate": window["errors"] / n if n else 0.0,
            "server_error_rate": window["server_errors"] / n if n else 0.0,
            "p95_ms": p95,
        }
        drift_at = now if drift_share is not None else None
        if drift_share is None and previous is not None and previous.model_version == dep["model_version"]:
            drift_share, drift_at = previous.drift_share, previous.drift_at
        drift = None
        if drift_share is not None:  # the shape core's formula reads: the share, and whether it is over the line
            drift = {"share": drift_share, "drifted": drift_share >= 0.5, "features": [{"value": drift_share}]}
        parts = health_score.components(
            state="ready", ops=ops, drift=drift, performance={},
            latency_objective_ms=s.latency_objective_ms, error_budget=s.error_budget,
        )  # fmt: skip
        health = health_score.score(parts, firing_alerts=firing)
        if model is None and previous is not None:  # MLflow not read this run: keep the cached values
            model = {"aliases": previous.aliases, "latest_version": previous.latest_version,
                     "last_trained": previous.last_trained}  # fmt: skip
        model = model or {}
        stale_before = now - s.stale_days * DAY
        last_trained = model.get("last_trained")
        no_traffic = last_request is None or last_request < stale_before
        pending_here = sum(
            1 for t in pending if t == f"deployment/{dep['deployment']}" or t.startswith(f"model/{dep['model_name']}@")
        )
        return {
            **dep,
            "aliases": model.get("aliases") or {},
            "latest_version": model.get("latest_version"),
            "last_trained": last_trained,
            "last_request": last_request,
            "requests": n,
            "errors": window["errors"],
            "error_rate": ops["error_rate"],
            "p95_ms": p95,
            "mean_ms": window["latency_sum"] / n if n else None,
            "latency_objective_ms": s.latency_objective_ms,
            "drift_share": drift_share,
            "drift_at": drift_at,
            "health_score": health["score"],
            "health_colour": health["colour"],
            "out_of_objective": bool(n and ((p95 or 0) > s.latency_objective_ms or ops["error_rate"] > s.error_budget)),
            "monitored": last_request is not None,
            "stale": bool(no_traffic or (last_trained is not None and last_trained < stale_before)),
            "open_alerts": int(firing),
            "pending_approvals": pending_here,
            "updated_at": now,
        }

    # --- MLflow and drift (optional: need an MLOps facade) ------------------------------------------------------

    def _model_metadata(self, names: set[str], now: float) -> dict[str, dict[str, Any]]:
        """Aliases, latest version and its time per model, re-read from MLflow every ``model_refresh_seconds``."""
        if self.mlops is None or not names:
            return {}
        if now - self._models_read_at < self.settings.model_refresh_seconds:
            return self._models
        found: dict[str, dict[str, Any]] = {}
        try:
            token: str | None = None
            while True:
                page = self.mlops.registry.search(max_results=500, page_token=token)
                for model in page.items:
                    if model.name not in names:
                        continue
                    newest = model.versions[0] if model.versions else None
                    found[model.name] = {
                        "aliases": dict(model.aliases),
                        "latest_version": model.latest_version,
                        "last_trained": newest.created_at.timestamp() if newest and newest.created_at else None,
                    }
                token = page.next_page_token
                if not token:
                    break
        except Exception as exc:  # MLflow down: the fleet keeps its cached metadata rather than failing
            log.warning("Fleet: MLflow metadata not refreshed: %s", exc)
            return self._models
        self._models, self._models_read_at = found, now
        return found

    def _drift(self, deployments: list[dict[str, Any]], previous: dict[str, Any], now: float) -> dict[str, float]:
        """Drift share of up to ``drift_per_cycle`` deployments with new logged inputs and a stale verdict."""
        if self.mlops is None:
            return {}
        from ..core.monitoring.drift import DriftSettings, dataset_drift
        from ..core.monitoring.service import PREDICTION, Monitoring
        from ..core.monitoring.storage import INPUT_PREFIX

        s = self.settings
        b = InferenceBatchRow
        with self.engine.connect() as conn:
            fresh = dict(
                conn.execute(
                    select(b.deployment, func.max(b.end_time))
                    .where(b.end_time >= now - s.drift_window_seconds)
                    .group_by(b.deployment)
                ).all()
            )
        due = [
            d
            for d in deployments
            if d["deployment"] in fresh
            and (
                previous.get(d["deployment"]) is None
                or previous[d["deployment"]].drift_at is None
                or now - previous[d["deployment"]].drift_at >= s.drift_interval_seconds
            )
        ][: s.drift_per_cycle]
        if not due:
            return {}
        monitoring = Monitoring(self.mlops)
        settings = DriftSettings()
        out: dict[str, float] = {}
        for dep in due:
            try:
                profile = monitoring.baseline(dep["model_name"], dep["model_version"])
                if profile is None:
                    continue
                live = monitoring.store.data(
                    dep["deployment"], now - s.drift_window_seconds, now, sample=settings.max_sample
                )
                result = dataset_drift(profile, live, settings, input_prefix=INPUT_PREFIX, output=PREDICTION)
                out[dep["deployment"]] = float(result.get("share") or 0.0)
            except Exception as exc:  # one deployment's baseline must not stop the fleet's refresh
                log.warning("Fleet: drift of %s not computed: %s", dep["deployment"], exc)
        return out


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if value.tzinfo is None:  # SQLite returns naive datetimes for timezone-aware columns; they are UTC
        from datetime import timezone

        value = value.replace(tzinfo=timezone.utc)
    return float(value.timestamp())
