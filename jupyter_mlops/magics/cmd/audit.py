"""``%mlops audit``: the ledger, its verification, what served a deployment at a time, and exports."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments

from ..display import Markdown, Preformatted, Table, compact_json, md_escape
from . import Context, parse


@magic_arguments(name="mlops audit")
@argument("target", nargs="?", help="deployment/NAME, model/NAME, ...; or verify, served, export.")
@argument("rest", nargs="*", default=[], help="Arguments of verify, served or export.")
@argument("--since", help="Only entries at or after this ISO 8601 time.")
@argument("--limit", type=int, default=1000, help="At most this many entries (default 1000).")
def audit(ctx: Context, line: str) -> Any:
    """Ledger entries, oldest first: %mlops audit [TARGET] | verify | served DEPLOYMENT TIME | export csv|json."""
    args = parse(audit, line)
    sub = {"verify": verify, "served": served, "export": export}.get(args.target or "")
    if sub is not None:
        return sub(ctx, line.strip().partition(" ")[2])
    if args.rest:
        raise UsageError("Usage: %mlops audit [TARGET] | verify | served DEPLOYMENT TIME | export csv|json [TARGET]")
    events = ctx.mlops.audit_events(args.target, since=args.since, limit=args.limit)
    rows = [
        [e.seq, e.at.isoformat(timespec="seconds"), e.action, e.actor, e.owner, e.target, e.outcome,
         compact_json(e.before), compact_json(e.after)]
        for e in events
    ]  # fmt: skip
    columns = ["seq", "at", "action", "actor", "owner", "target", "outcome", "before", "after"]
    return Table(f"Audit ledger ({len(rows)} entries)", columns, rows)


@magic_arguments(name="mlops audit verify")
def verify(ctx: Context, line: str) -> Any:
    """Recompute the ledger's hash chain and say whether it is intact."""
    parse(verify, line)
    report = ctx.mlops.verify_audit()
    return Markdown(("✅ " if report.ok else "❌ ") + md_escape(report.message))


@magic_arguments(name="mlops audit served")
@argument("deployment", help="Deployment name.")
@argument("time", help="ISO 8601 time, e.g. 2026-11-27T05:00:00Z.")
def served(ctx: Context, line: str) -> Any:
    """Which model version served a deployment at a time, from the ledger."""
    args = parse(served, line)
    answer = ctx.mlops.served_at(args.deployment, args.time)
    if not answer.serving:
        return Markdown(f"`{md_escape(answer.deployment)}` served nothing at {answer.at.isoformat()}.")
    since = answer.since.isoformat() if answer.since else "?"
    return Markdown(
        f"`{md_escape(answer.deployment)}` served **{md_escape(answer.model_name)} v{md_escape(answer.model_version)}**"
        f" at {answer.at.isoformat()} (since {since}, entry {answer.event_seq})."
    )


@magic_arguments(name="mlops audit export")
@argument("format", choices=["csv", "json"], help="Export format.")
@argument("target", nargs="?", help="Only entries of this target.")
def export(ctx: Context, line: str) -> Any:
    """The ledger (or one target's part) as CSV or JSON text, whole."""
    args = parse(export, line)
    return Preformatted(ctx.mlops.export_audit(args.target, format=args.format))
