"""What the fleet dashboard and its REST API read: the fleet tables (rollups and summaries), never the raw log.

``FleetView`` is framework-free: the tornado handlers parse, call one method, render. Bad input raises core's
``InvalidRequest``; an unknown deployment ``NotFound``.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from ..core.errors import InvalidRequest, NotFound, Unavailable
from ..core.governance.audit import AuditLedger, to_iso
from ..core.governance.policy import Approval, _approval
from ..core.monitoring.storage import MonitoringStore
from ..core.store import Store
from ..core.store.fleet_tables import HISTOGRAM_COLUMNS, FleetDailyRow, FleetRollupRow, FleetStateRow, FleetSummaryRow
from ..core.store.governance_tables import ApprovalRow
from ..core.store.monitoring_tables import AlertRow, AlertRuleRow
from .rollups import DAY, HOUR, WATERMARK, FleetSettings, percentile

SORTS = {
    "name": FleetSummaryRow.deployment,
    "owner": FleetSummaryRow.owner,
    "model": FleetSummaryRow.model_name,
    "health": FleetSummaryRow.health_score,
    "requests": FleetSummaryRow.requests,
    "error_rate": FleetSummaryRow.error_rate,
    "p95": FleetSummaryRow.p95_ms,
    "drift": FleetSummaryRow.drift_share,
    "last_deploy": FleetSummaryRow.last_deploy,
    "last_request": FleetSummaryRow.last_request,
    "alerts": FleetSummaryRow.open_alerts,
}
COLOURS = ("green", "amber", "red", "unknown")
RISK_REPORT_FORMATS = ("csv", "pdf")  # unknown: no data in the window, no score
MAX_PAGE_SIZE = 200
TREND_DAYS = 30
SERIES_HOURS = 48
CSV_COLUMNS = (
    "deployment", "owner", "target", "model_name", "model_version", "latest_version", "aliases", "health_score",
    "health_colour", "requests", "error_rate", "p95_ms", "latency_objective_ms", "out_of_objective", "drift_share",
    "monitored", "stale", "open_alerts", "pending_approvals", "last_deploy", "last_request", "last_trained",
)  # fmt: skip
_TIMES = ("last_deploy", "last_request", "last_trained", "drift_at", "updated_at")


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="seconds")


SUMMARY = FleetSummaryRow.__table__
ESTIMATED_PREFIX = "estimated_"  # alert rules on performance estimated without labels (issue #16)


def _row(found: Any) -> dict[str, Any]:
    out = dict(found._mapping)
    for key in _TIMES:
        out[key] = iso(out[key])
    out["name"] = out.pop("deployment")
    return out


def _int(value: Any, what: str, low: int, high: int, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidRequest(f"{what} must be a whole number between {low} and {high}.") from None
    if not low <= number <= high:
        raise InvalidRequest(f"{what} must be between {low} and {high}.")
    return number


class FleetView:
    """Read-only queries over one store's fleet tables (kept current by ``FleetRollups``)."""

    def __init__(self, store: Store, settings: FleetSettings | None = None, mlops: Any = None) -> None:
        self.store = store
        self.settings = settings or FleetSettings()
        self.mlops = mlops  # the service's facade: model risk reads MLflow's registry through it
        self.ledger = AuditLedger(store)
        self.monitoring = MonitoringStore(store.engine)

    def summary(self) -> dict[str, Any]:
        """The executive summary: counts by colour and by problem, pending approvals, and the daily trend."""
        s = FleetSummaryRow
        with self.store.engine.connect() as conn:
            by_colour = dict(conn.execute(select(s.health_colour, func.count()).group_by(s.health_colour)).all())
            totals = conn.execute(
                select(
                    func.count(),
                    func.count(func.distinct(s.model_name)),
                    func.count(func.distinct(s.owner)),
                    func.sum(case((s.out_of_objective, 1), else_=0)),
                    func.sum(case((s.monitored, 0), else_=1)),
                    func.sum(case((s.stale, 1), else_=0)),
                    func.sum(s.open_alerts),
                    func.sum(s.requests),
                    func.avg(s.health_score),
                    func.max(s.updated_at),
                )
            ).one()
            pending = conn.execute(select(func.count()).where(ApprovalRow.status == "pending")).scalar_one()
            first_day = int(time.time() // DAY) - TREND_DAYS + 1
            trend = conn.execute(
                select(FleetDailyRow.__table__).where(FleetDailyRow.day >= first_day).order_by(FleetDailyRow.day)
            ).all()
            days = [
                {
                    "day": datetime.fromtimestamp(d.day * DAY, tz=timezone.utc).date().isoformat(),
                    "requests": d.requests,
                    "errors": d.errors,
                    "error_rate": d.errors / d.requests if d.requests else 0.0,
                    "mean_ms": d.latency_sum / d.requests if d.requests else None,
                    "active_deployments": d.active_deployments,
                    "green": d.green,
                    "amber": d.amber,
                    "red": d.red,
                }
                for d in trend
            ]
            watermark = conn.execute(select(FleetStateRow.value).where(FleetStateRow.name == WATERMARK)).scalar()
            with_objective, below_objective = self._estimated_objectives(conn)
        count, models, owners, out, never, stale, alerts, requests, mean_score, updated = totals
        return {
            "deployments": int(count or 0),
            "models": int(models or 0),
            "owners": int(owners or 0),
            "health": {c: int(by_colour.get(c, 0)) for c in COLOURS},
            "score": round(float(mean_score), 1) if mean_score is not None else None,
            "out_of_objectives": int(out or 0),
            "estimated_objectives": with_objective,
            "estimated_below_objective": below_objective,
            "never_monitored": int(never or 0),
            "stale": int(stale or 0),
            "open_alerts": int(alerts or 0),
            "pending_approvals": int(pending or 0),
            "requests": int(requests or 0),
            "window_hours": self.settings.window_hours,
            "stale_days": self.settings.stale_days,
            "latency_objective_ms": self.settings.latency_objective_ms,
            "trend": days,
            "updated_at": iso(updated),
            "log_processed_to": iso(watermark),
        }

    @staticmethod
    def _estimated_objectives(conn: Any) -> tuple[int, int]:
        """Fleet deployments with a performance objective on an estimated metric, and those now below it.

        The objective is an alert rule on an ``estimated_*`` metric (its threshold); a deployment is below it while
        such a rule fires (rules are evaluated by the alert scheduler, or when the deployment's report is read). An
        estimate that is unavailable (no reference set) never fires, so it is never counted as below.
        """
        fleet = select(FleetSummaryRow.deployment)
        with_objective = conn.execute(
            select(func.count(func.distinct(AlertRuleRow.deployment))).where(
                AlertRuleRow.metric.startswith(ESTIMATED_PREFIX, autoescape=True), AlertRuleRow.deployment.in_(fleet)
            )
        ).scalar_one()
        below = conn.execute(
            select(func.count(func.distinct(AlertRow.deployment))).where(
                AlertRow.state == "firing",
                AlertRow.metric.startswith(ESTIMATED_PREFIX, autoescape=True),
                AlertRow.deployment.in_(fleet),
            )
        ).scalar_one()
        return int(with_objective or 0), int(below or 0)

    def deployments(
        self,
        *,
        q: str | None = None,
        owner: str | None = None,
        health: str | None = None,
        sort: str | None = None,
        order: str | None = None,
        page: Any = None,
        page_size: Any = None,
        problem: str | None = None,
    ) -> dict[str, Any]:
        """One page of deployments, filtered (text, owner, colour, problem), sorted and counted."""
        s = FleetSummaryRow
        page_n = _int(page, "page", 1, 1_000_000, 1)
        size = _int(page_size, "page_size", 1, MAX_PAGE_SIZE, 50)
        sort = sort or "name"
        if sort not in SORTS:
            raise InvalidRequest(f"Unknown sort {sort[:40]!r}: use one of {', '.join(SORTS)}.")
        order = order or ("asc" if sort in ("name", "owner", "model", "health") else "desc")
        if order not in ("asc", "desc"):
            raise InvalidRequest("order must be 'asc' or 'desc'.")
        conditions: list[Any] = []
        if q:
            if len(q) > 200:
                raise InvalidRequest("The search text is too long (200 characters at most).")
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(or_(*(c.ilike(pattern, escape="\\") for c in (s.deployment, s.model_name, s.owner))))
        if owner:
            conditions.append(s.owner == owner)
        if health:
            if health not in COLOURS:
                raise InvalidRequest("health must be green, amber, red or unknown.")
            conditions.append(s.health_colour == health)
        if problem:
            problems: dict[str, Any] = {
                "out_of_objective": s.out_of_objective.is_(True),
                "never_monitored": s.monitored.is_(False),
                "stale": s.stale.is_(True),
            }
            if problem not in problems:
                raise InvalidRequest(f"problem must be one of {', '.join(problems)}.")
            conditions.append(problems[problem])
        where = and_(*conditions) if conditions else None
        column = SORTS[sort]
        ordering = column.asc() if order == "asc" else column.desc()
        query = select(SUMMARY).order_by(ordering.nulls_last(), s.deployment).limit(size).offset((page_n - 1) * size)
        counting = select(func.count()).select_from(s)
        if where is not None:
            query, counting = query.where(where), counting.where(where)
        with self.store.engine.connect() as conn:
            total = conn.execute(counting).scalar_one()
            items = [_row(r) for r in conn.execute(query)]
        return {"items": items, "total": int(total), "page": page_n, "page_size": size, "sort": sort, "order": order}

    def deployment(self, name: str) -> dict[str, Any]:
        """A deployment's summary, its hourly ops series (rollups), alerts, approvals and audit trail."""
        s, u = FleetSummaryRow, FleetRollupRow
        with self.store.engine.connect() as conn:
            found = conn.execute(select(SUMMARY).where(s.deployment == name)).first()
            if found is None:
                raise NotFound(
                    f"No deployment named {name[:63]!r} in the fleet (it may be newer than the last refresh)."
                )
            summary = _row(found)
            from_hour = int(time.time() // HOUR) - SERIES_HOURS + 1
            hours = conn.execute(
                select(u.__table__).where(and_(u.deployment == name, u.hour >= from_hour)).order_by(u.hour)
            ).all()
        series = []
        for h in hours:
            m = h._mapping
            histogram = [int(m[c]) for c in HISTOGRAM_COLUMNS]
            series.append(
                {
                    "time": iso(m["hour"] * HOUR),
                    "requests": m["requests"],
                    "errors": m["errors"],
                    "error_rate": m["errors"] / m["requests"] if m["requests"] else 0.0,
                    "mean_ms": m["latency_sum"] / m["requests"] if m["requests"] else None,
                    "p95_ms": percentile(histogram, 0.95, m["latency_max"]),
                }
            )
        approvals = self._approvals(
            or_(
                ApprovalRow.target == f"deployment/{name}",
                ApprovalRow.target.startswith(f"model/{summary['model_name']}@", autoescape=True),
            ),
            limit=50,
        )
        alerts = self.monitoring.alerts(name, limit=50)
        # The deployment's own entries and those of its approvals (recorded under approval/ID).
        audit = self.ledger.events(name, limit=500)
        for approval in approvals:
            audit += self.ledger.events(f"approval/{approval.id}", limit=50)
        audit.sort(key=lambda e: e.seq)
        return {
            **summary,
            "ops": series,
            "alerts": [
                {k: a[k] for k in ("id", "rule", "metric", "value", "threshold", "state", "message")}
                | {"fired_at": iso(a["fired_at"]), "acknowledged_by": a.get("acknowledged_by")}
                for a in alerts
            ],
            "approvals": [a.model_dump(mode="json") for a in approvals],
            "audit": [e.model_dump(mode="json") for e in audit],
        }

    def _approvals(self, where: Any, limit: int = 10_000) -> list[Approval]:
        with self.store.session() as session:
            rows = session.scalars(select(ApprovalRow).where(where).order_by(ApprovalRow.id.desc()).limit(limit))
            return [_approval(row) for row in rows]

    def export_csv(self) -> str:
        """Every deployment's summary row as CSV (one line each, the dashboard's columns)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        with self.store.engine.connect() as conn:
            for found in conn.execute(select(SUMMARY).order_by(FleetSummaryRow.deployment)):
                row = _row(found)
                row["deployment"] = row["name"]
                row["aliases"] = " ".join(f"{k}={v}" for k, v in sorted((row["aliases"] or {}).items()))
                writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
        return buffer.getvalue()

    def report_data(self, since: str | None, until: str | None) -> dict[str, Any]:
        """The audit report's content over ``[since, until]``: inventory, approvals, changes, chain check."""
        now = datetime.now(timezone.utc)
        until_iso = to_iso(until) if until else now.isoformat(timespec="microseconds")
        since_iso = to_iso(since) if since else to_iso(datetime.fromtimestamp(now.timestamp() - 30 * DAY, timezone.utc))
        if since_iso > until_iso:
            raise InvalidRequest("since must be before until.")
        with self.store.engine.connect() as conn:
            inventory = [
                _row(r)
                for r in conn.execute(select(SUMMARY).order_by(FleetSummaryRow.owner, FleetSummaryRow.deployment))
            ]
        approvals = self._approvals(
            or_(
                and_(ApprovalRow.created_at >= since_iso, ApprovalRow.created_at <= until_iso),
                and_(ApprovalRow.decided_at >= since_iso, ApprovalRow.decided_at <= until_iso),
                ApprovalRow.status == "pending",
            )
        )
        changes = self.ledger.events(since=since_iso, until=until_iso, limit=20_000)
        return {
            "since": since_iso,
            "until": until_iso,
            "generated_at": now.isoformat(timespec="seconds"),
            "inventory": inventory,
            "approvals": [a.model_dump(mode="json") for a in approvals],
            "changes": [e.model_dump(mode="json") for e in changes],
            "chain": self.ledger.verify().model_dump(mode="json"),
        }

    # --- model risk (issue 17) -------------------------------------------------------------------------------

    def _risk_facade(self) -> Any:
        if self.mlops is None:
            raise Unavailable("The model risk panel needs the service's facade (FleetView(..., mlops=...)).")
        return self.mlops

    def risk(self) -> dict[str, Any]:
        """The "Model risk" panel: registered models by tier and lifecycle, reviews overdue, never validated."""
        return dict(self._risk_facade().risk_summary().model_dump(mode="json"))

    def risk_inventory(self, format: str, as_of: str | None = None) -> bytes:
        """The model inventory report (SR 11-7 fields) as of a date (default today), as csv or pdf."""
        if format not in RISK_REPORT_FORMATS:
            raise InvalidRequest(f"The inventory downloads as {' or '.join(RISK_REPORT_FORMATS)}, not {format!r}.")
        return bytes(self._risk_facade().inventory_report(as_of or None, format))
