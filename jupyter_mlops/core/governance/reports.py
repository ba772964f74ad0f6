"""Regulator-ready reports built from what we already hold: the registry, the ledger, validations and monitoring.

* the model inventory as of a date (SR 11-7 fields), as CSV, HTML or PDF;
* technical documentation of one version with the sections of EU AI Act Annex IV, each saying what it was built
  from or that it is missing;
* Article 12 logging evidence for one deployment and period: logging settings, retention against the six-month
  minimum (Articles 19 and 26), first and last use, volumes, and the ledger's chain check.

Every report is a plain ``Document`` (sections of lines and tables) rendered to Markdown, HTML or a PDF
(ReportLab, imported only when a PDF is asked for).
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import func, select

from ..errors import InvalidRequest
from ..models import ModelVersion, RegisteredModel
from ..store.monitoring_tables import InferenceRequestRow
from .audit import AuditEvent, AuditLedger
from .policy import Approval
from .risk import SIX_MONTHS_DAYS, InventoryEntry, Retention, Validation

if TYPE_CHECKING:
    from ...config import MLOpsConfig
    from ..store import Store

INVENTORY_FORMATS = ("csv", "html", "pdf", "json")
DOCUMENT_FORMATS = ("md", "html", "pdf")
INVENTORY_COLUMNS = (
    "model",
    "latest_version",
    "versions",
    "purpose",
    "intended_use",
    "business_owner",
    "technical_owner",
    "risk_tier",
    "lifecycle_status",
    "validation_status",
    "validated_at",
    "next_review_due",
    "review_overdue",
)
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}


def check_format(format: str, allowed: tuple[str, ...]) -> None:
    """InvalidRequest naming the formats a report comes in."""
    if format not in allowed:
        raise InvalidRequest(f"Unknown report format {format!r}: use {', '.join(allowed)}.")


class Section(BaseModel):
    """One section of a report: its heading, what it was built from (or what is missing), lines and a table."""

    heading: str
    source: str
    missing: bool = False
    lines: list[str] = []
    table: list[list[str]] = []


class Document(BaseModel):
    """A report: a title, a subtitle, sections."""

    title: str
    subtitle: str
    sections: list[Section]


# --- inventory --------------------------------------------------------------------------------------------------


def _as_of_entries(history: list[AuditEvent], day_end: datetime) -> dict[str, dict[str, Any]]:
    """Model-level inventory fields as they stood at ``day_end``, replayed from the ledger."""
    state: dict[str, dict[str, Any]] = {}
    for event in history:
        if event.at > day_end or event.outcome != "ok" or not event.target.startswith("model/"):
            continue
        path = event.target[len("model/") :]
        if event.action == "set_inventory" and "/" not in path and "@" not in path and event.after:
            state[path] = dict(event.after)
        elif event.action == "validate" and "/" in path and event.after:
            model = path.split("/", 1)[0]
            entry = state.setdefault(model, {"model": model})
            entry["validation_status"] = event.after.get("outcome")
            entry["validated_at"] = event.at.isoformat()
    return state


def inventory_rows(
    models: list[RegisteredModel], entries: list[InventoryEntry], day: date, history: list[AuditEvent] | None
) -> list[dict[str, str]]:
    """One row per model registered by the end of ``day``, with its inventory fields as of that day.

    ``history`` (the ledger) is given for a past day: fields are then replayed from it, not read from now.
    """
    day_end = datetime.combine(day, time.max, tzinfo=UTC)
    current = {e.model: e.model_dump(mode="json") for e in entries if e.version is None}
    fields = _as_of_entries(history, day_end) if history is not None else current
    rows = []
    for model in sorted(models, key=lambda m: m.name):
        if model.created_at is not None and _aware(model.created_at) > day_end:
            continue
        versions = [v for v in model.versions if v.created_at is None or _aware(v.created_at) <= day_end]
        entry = fields.get(model.name, {})
        due = entry.get("next_review_due")
        overdue = bool(due) and str(due) < day.isoformat() and entry.get("lifecycle_status") != "retired"
        row = {key: "" if entry.get(key) is None else str(entry.get(key)) for key in INVENTORY_COLUMNS}
        row.update(
            model=model.name,
            latest_version=max((v.version for v in versions), key=int, default="") if versions else "",
            versions=str(len(versions)),
            validation_status=str(entry.get("validation_status") or "not_validated"),
            review_overdue="yes" if overdue else "no",
        )
        rows.append(row)
    return rows


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def render_inventory(rows: list[dict[str, str]], day: date, format: str) -> bytes:
    """The inventory as CSV, JSON, HTML or PDF."""
    if format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(INVENTORY_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode()
    if format == "json":
        import json

        return json.dumps({"as_of": day.isoformat(), "items": rows}).encode()
    table = [list(INVENTORY_COLUMNS), *[[r[c] for c in INVENTORY_COLUMNS] for r in rows]]
    doc = Document(
        title="Model inventory",
        subtitle=f"As of {day.isoformat()} · {len(rows)} models · SR 11-7 inventory fields",
        sections=[Section(heading="Models", source="MLflow registry, inventory fields and validations (ledger)",
                          table=table)],
    )  # fmt: skip
    return render_document(doc, format)


# --- technical documentation (Annex IV) -------------------------------------------------------------------------


@dataclass
class DocumentContext:
    """Everything the technical documentation of one version is built from."""

    version: ModelVersion
    model_entry: InventoryEntry
    version_entry: InventoryEntry
    validations: list[Validation]
    approvals: list[Approval]
    ledger: list[AuditEvent]
    monitoring: dict[str, Any] | None
    alerts: list[dict[str, Any]]
    deployments: list[str]
    generated_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)


ANNEX_IV_SECTIONS = (
    "1. General description and intended purpose (Annex IV(1))",
    "2. Design, development and training data (Annex IV(2))",
    "3. Performance metrics (Annex IV(3), IV(4))",
    "4. Human oversight (Annex IV(2)(e), Article 14)",
    "5. Risk management system (Annex IV(5), Article 9)",
    "6. Changes over the lifecycle (Annex IV(6))",
    "7. Post-market monitoring (Annex IV(9), Article 72)",
)


def _fill(entry: InventoryEntry, fallback: InventoryEntry, key: str) -> Any:
    return getattr(entry, key) or getattr(fallback, key)


def technical_document(ctx: DocumentContext) -> Document:
    """The Annex IV sections of one version, each naming its sources or saying what is missing."""
    mv, uri = ctx.version, ctx.version.uri
    tags = mv.tags
    purpose = _fill(ctx.version_entry, ctx.model_entry, "purpose")
    intended = _fill(ctx.version_entry, ctx.model_entry, "intended_use")
    general = [
        f"Model: {uri}" + (f" (aliases: {', '.join(mv.aliases)})" if mv.aliases else ""),
        f"Description: {mv.description or 'none recorded'}",
        f"Purpose: {purpose or 'missing'}",
        f"Intended use: {intended or 'missing'}",
        f"Business owner: {_fill(ctx.version_entry, ctx.model_entry, 'business_owner') or 'missing'}",
        f"Technical owner: {_fill(ctx.version_entry, ctx.model_entry, 'technical_owner') or 'missing'}",
        f"Risk tier: {_fill(ctx.version_entry, ctx.model_entry, 'risk_tier') or 'missing'}",
        f"Lifecycle status: {_fill(ctx.version_entry, ctx.model_entry, 'lifecycle_status') or 'missing'}",
        f"Registered by {tags.get('mlops.registered_by', 'unknown')} at {mv.created_at or 'unknown'}",
    ]
    design = [
        f"MLflow run: {mv.run_id or 'missing'}; source: {mv.source or 'missing'}",
        f"Notebook: {tags.get('mlops.notebook', 'missing')}; git commit: {tags.get('mlops.git.commit', 'missing')}",
        f"Python: {tags.get('mlops.python', 'missing')}; packages: {tags.get('mlops.packages', 'missing')}",
        f"Training data fingerprint: {tags.get('mlops.data.fingerprint', 'missing')} "
        f"({tags.get('mlops.data.rows', '?')} rows x {tags.get('mlops.data.columns', '?')} columns)",
        f"Signature: {mv.signature if mv.signature else 'missing'}",
    ]
    params = [[k, str(v)] for k, v in sorted(mv.params.items())]
    sections = [
        Section(
            heading=ANNEX_IV_SECTIONS[0],
            source="Built from: the MLflow registry and the inventory fields."
            + ("" if purpose and intended else " Missing: purpose and/or intended use (set them with set_inventory)."),
            missing=not (purpose and intended),
            lines=general,
        ),
        Section(
            heading=ANNEX_IV_SECTIONS[1],
            source="Built from: the MLflow run, its parameters and the lineage tags captured at registration."
            + ("" if "mlops.data.fingerprint" in tags else " Missing: training data fingerprint (register with X)."),
            missing="mlops.data.fingerprint" not in tags,
            lines=design,
            table=[["parameter", "value"], *params] if params else [],
        ),
        Section(
            heading=ANNEX_IV_SECTIONS[2],
            source="Built from: the MLflow run's metrics." if mv.metrics else "Missing: no metrics logged in MLflow.",
            missing=not mv.metrics,
            table=[["metric", "value"], *[[k, f"{v:.6g}"] for k, v in sorted(mv.metrics.items())]]
            if mv.metrics
            else [],
        ),
        Section(
            heading=ANNEX_IV_SECTIONS[3],
            source="Built from: approval requests and decisions for this version."
            if ctx.approvals
            else "Missing: no approval of this version was requested.",
            missing=not ctx.approvals,
            table=[
                ["#", "action", "target", "requested by", "status", "decided by", "comment"],
                *[
                    [str(a.id), a.action, a.target, a.requested_by, a.status, a.decided_by or "", a.comment or ""]
                    for a in ctx.approvals
                ],
            ]
            if ctx.approvals
            else [],
        ),
        Section(
            heading=ANNEX_IV_SECTIONS[4],
            source="Built from: independent validations and their findings."
            if ctx.validations
            else "Missing: this version has no validation.",
            missing=not ctx.validations,
            lines=[
                f"Validation #{v.id} by {v.validator} on {v.created_at:%Y-%m-%d}: {v.outcome}"
                + (f" ({v.comment})" if v.comment else "")
                for v in ctx.validations
            ],
            table=[
                ["validation", "severity", "finding"],
                *[[f"#{v.id}", f.severity, f.description] for v in ctx.validations for f in v.findings],
            ]
            if any(v.findings for v in ctx.validations)
            else [],
        ),
        Section(
            heading=ANNEX_IV_SECTIONS[5],
            source=f"Built from: the audit ledger ({len(ctx.ledger)} entries on the model and its deployments)."
            if ctx.ledger
            else "Missing: the ledger holds no entry for this model.",
            missing=not ctx.ledger,
            table=[
                ["seq", "at", "action", "actor", "target", "outcome"],
                *[
                    [str(e.seq), f"{e.at:%Y-%m-%d %H:%M}", e.action, e.actor, e.target, e.outcome]
                    for e in sorted(ctx.ledger, key=lambda e: e.seq)[-200:]
                ],
            ]
            if ctx.ledger
            else [],
        ),
        _monitoring_section(ctx),
    ]
    return Document(
        title=f"Technical documentation: {mv.name} v{mv.version}",
        subtitle=f"EU AI Act Annex IV · generated {ctx.generated_at:%Y-%m-%d %H:%M} UTC by jupyter_mlops",
        sections=sections,
    )


def _monitoring_section(ctx: DocumentContext) -> Section:
    summary = ctx.monitoring or {}
    deployments = summary.get("deployments") or []
    lines = [f"Drift baseline recorded: {'yes' if summary.get('baseline') else 'no'}"]
    for dep in deployments:
        lines.append(
            f"Deployment {dep.get('name')}: health {dep.get('score', dep.get('status', 'unknown'))}"
            + (f", {dep.get('requests')} requests" if dep.get("requests") is not None else "")
        )
    lines += [f"Alert {a.get('id')}: {a.get('rule')} on {a.get('deployment')} ({a.get('state')})" for a in ctx.alerts]
    missing = not deployments
    return Section(
        heading=ANNEX_IV_SECTIONS[6],
        source="Built from: monitoring health of the deployments serving this version and their alerts."
        if not missing
        else "Missing: this version serves in no deployment, so there is no post-market monitoring yet.",
        missing=missing,
        lines=lines,
    )


# --- Article 12 logging evidence --------------------------------------------------------------------------------


class LoggingEvidence(BaseModel):
    """Article 12 evidence for one deployment and period."""

    deployment: str
    start: datetime
    end: datetime
    risk_tier: str | None
    logging_enabled: bool
    sample_rate: float
    retention_days_applied: float
    retention_days_declared: float | None
    ledger_retention_days: float | None
    minimum_days: float = SIX_MONTHS_DAYS
    retention_meets_minimum: bool
    first_use: datetime | None
    last_use: datetime | None
    requests: int
    rows: int
    errors: int
    by_version: dict[str, int]
    ledger_entries: int
    chain_ok: bool
    chain_entries: int
    chain_message: str


def _keeps(days: float | None) -> bool:
    return days is None or days == 0 or days >= SIX_MONTHS_DAYS


def logging_evidence(
    deployment: str,
    start: datetime,
    end: datetime,
    config: MLOpsConfig,
    retention: Retention,
    store: Store,
    ledger: AuditLedger,
    tier: str | None,
) -> LoggingEvidence:
    """What the inference log and the ledger show for ``deployment`` between ``start`` and ``end``."""
    t0, t1 = start.timestamp(), end.timestamp()
    where = (
        InferenceRequestRow.deployment == deployment,
        InferenceRequestRow.time >= t0,
        InferenceRequestRow.time <= t1,
    )
    with store.session() as s:
        first, last, count, rows = s.execute(
            select(
                func.min(InferenceRequestRow.time),
                func.max(InferenceRequestRow.time),
                func.count(),
                func.coalesce(func.sum(InferenceRequestRow.n_rows), 0),
            ).where(*where)
        ).one()
        errors = s.scalar(select(func.count()).where(*where, InferenceRequestRow.status >= 400)) or 0
        by_version = dict(
            s.execute(
                select(InferenceRequestRow.model_version, func.count())
                .where(*where)
                .group_by(InferenceRequestRow.model_version)
            ).all()
        )
    entries = ledger.events(f"deployment/{deployment}", since=start, until=end, limit=1_000_000)
    chain = ledger.verify()
    # The writer purges a deployment by its own declaration when there is one, else by the default.
    declared = retention.inference_log_days
    applied = float(config.inference_log_retention_days) if declared is None else float(declared)
    return LoggingEvidence(
        deployment=deployment,
        start=start,
        end=end,
        risk_tier=tier,
        logging_enabled=bool(config.inference_log_enabled),
        sample_rate=float(config.inference_log_sample_rate),
        retention_days_applied=applied,
        retention_days_declared=retention.inference_log_days,
        ledger_retention_days=retention.ledger_days,
        retention_meets_minimum=_keeps(applied) and _keeps(retention.ledger_days),
        first_use=datetime.fromtimestamp(first, UTC) if first is not None else None,
        last_use=datetime.fromtimestamp(last, UTC) if last is not None else None,
        requests=int(count),
        rows=int(rows),
        errors=int(errors),
        by_version={str(k): int(v) for k, v in by_version.items()},
        ledger_entries=len(entries),
        chain_ok=chain.ok,
        chain_entries=chain.entries,
        chain_message=chain.message,
    )


def logging_document(ev: LoggingEvidence) -> Document:
    """The logging evidence as a report."""
    retention = (
        f"inference log purged after {ev.retention_days_applied:g} days by the serving daemon (0 = never); "
        f"declared for this deployment: {_days(ev.retention_days_declared)}; ledger: {_days(ev.ledger_retention_days)}"
    )
    return Document(
        title=f"Logging evidence: {ev.deployment}",
        subtitle=f"EU AI Act Article 12 · {ev.start:%Y-%m-%d %H:%M} to {ev.end:%Y-%m-%d %H:%M} UTC",
        sections=[
            Section(
                heading="Automatic logging (Article 12(1))",
                source="Built from: the installation's settings (MLOpsConfig.inference_log_*).",
                lines=[
                    f"Logging enabled: {'yes' if ev.logging_enabled else 'NO'}",
                    f"Sample rate of inputs and outputs: {ev.sample_rate:g} (every request's time, latency and "
                    "status is logged)",
                    f"Risk tier: {ev.risk_tier or 'not assigned'}",
                ],
            ),
            Section(
                heading="Retention (Articles 19 and 26: at least six months)",
                source="Built from: settings and the deployment's declared retention.",
                missing=not ev.retention_meets_minimum,
                lines=[
                    retention,
                    f"Meets the {ev.minimum_days:g}-day minimum: {'yes' if ev.retention_meets_minimum else 'NO'}",
                ],
            ),
            Section(
                heading="Period of use and volumes (Article 12(3))",
                source="Built from: the inference log (mlops_inference_requests).",
                missing=ev.requests == 0,
                lines=[
                    f"First use: {ev.first_use or 'none in the period'}",
                    f"Last use: {ev.last_use or 'none in the period'}",
                    f"Requests: {ev.requests}; rows scored: {ev.rows}; errors: {ev.errors}",
                ],
                table=[["model version", "requests"], *[[k, str(v)] for k, v in sorted(ev.by_version.items())]]
                if ev.by_version
                else [],
            ),
            Section(
                heading="Integrity of the audit ledger",
                source="Built from: the ledger's hash chain, recomputed now.",
                missing=not ev.chain_ok,
                lines=[
                    f"Ledger entries on this deployment in the period: {ev.ledger_entries}",
                    f"Chain check: {'intact' if ev.chain_ok else 'BROKEN'} over {ev.chain_entries} entries "
                    f"({ev.chain_message})",
                ],
            ),
        ],
    )


def _days(value: float | None) -> str:
    if value is None:
        return "installation default"
    return "forever" if value == 0 else f"{value:g} days"


# --- rendering --------------------------------------------------------------------------------------------------


def render_document(doc: Document, format: str) -> bytes:
    """A document as Markdown, HTML or PDF."""
    if format == "md":
        return _markdown(doc).encode()
    if format == "html":
        return _html(doc).encode()
    if format == "pdf":
        return _pdf(doc)
    raise InvalidRequest(f"Unknown report format {format!r}: use {', '.join(DOCUMENT_FORMATS)}.")


def _md_cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _markdown(doc: Document) -> str:
    out = [f"# {doc.title}", "", f"_{doc.subtitle}_", ""]
    for section in doc.sections:
        out += [f"## {section.heading}", "", f"> {section.source}", ""]
        out += [f"- {line}" for line in section.lines]
        if section.table:
            head, *body = section.table
            out += ["", "| " + " | ".join(map(_md_cell, head)) + " |", "|" + "---|" * len(head)]
            out += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in body]
        out.append("")
    return "\n".join(out)


_CSS = (
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:12px}"
    "td,th{border:1px solid #bbb;padding:3px 6px;text-align:left}th{background:#eee}"
    ".source{color:#555;font-style:italic}.missing{color:#a00}"
)


def _html(doc: Document) -> str:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(doc.title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{e(doc.title)}</h1><p>{e(doc.subtitle)}</p>"]  # fmt: skip
    for section in doc.sections:
        cls = "source missing" if section.missing else "source"
        parts.append(f"<h2>{e(section.heading)}</h2><p class='{cls}'>{e(section.source)}</p>")
        if section.lines:
            parts.append("<ul>" + "".join(f"<li>{e(line)}</li>" for line in section.lines) + "</ul>")
        if section.table:
            head, *body = section.table
            parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in body]
            parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def _pdf(doc: Document) -> bytes:
    """A PDF with ReportLab: title, then each section's heading, source note, lines and table (landscape A4)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7, leading=8.5)
    note = styles["BodyText"].clone("note", textColor=colors.HexColor("#555555"), fontName="Helvetica-Oblique")
    missing = note.clone("missing", textColor=colors.HexColor("#aa0000"))
    e = html.escape
    story: list[Any] = [Paragraph(e(doc.title), styles["Title"]), Paragraph(e(doc.subtitle), note), Spacer(1, 4 * mm)]
    for section in doc.sections:
        story.append(Paragraph(e(section.heading), styles["Heading2"]))
        story.append(Paragraph(e(section.source), missing if section.missing else note))
        story += [Paragraph("• " + e(line), styles["BodyText"]) for line in section.lines]
        if section.table:
            data = [[Paragraph(e(cell)[:600], small) for cell in row] for row in section.table]
            table = Table(data, repeatRows=1)
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            story += [Spacer(1, 2 * mm), table]
        story.append(Spacer(1, 4 * mm))
    out = io.BytesIO()
    SimpleDocTemplate(
        out, pagesize=landscape(A4), title=doc.title, author="jupyter_mlops",
        leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm,
    ).build(story)  # fmt: skip
    return out.getvalue()
