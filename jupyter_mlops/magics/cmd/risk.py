"""``%mlops risk``: the model inventory, independent validation, periodic review and regulator reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments

from ..display import Markdown, Notice, Table, neutralize_markdown
from . import Context, as_dict, parse

ACTIONS = ("show", "set", "validate", "validations", "summary", "reviews", "inventory", "doc", "evidence")


@magic_arguments(name="mlops risk")
@argument("action", choices=ACTIONS, help="What to do (see the examples in %%mlops risk --help).")
@argument("subject", nargs="?", help="NAME[/VERSION] (show, set, validate, validations, doc) or DEPLOYMENT.")
@argument("values", nargs="*", default=[], help="KEY=VALUE fields for set; the OUTCOME for validate.")
@argument("--finding", action="append", default=[], help="SEVERITY:TEXT, for validate (repeatable).")
@argument("--comment", help="A comment or the conditions, for validate.")
@argument("--as-of", dest="as_of", help="YYYY-MM-DD, for inventory (default today).")
@argument("--start", help="ISO time, for evidence.")
@argument("--end", help="ISO time, for evidence.")
@argument("--format", dest="fmt", help="csv|html|pdf|json (inventory), md|html|pdf (doc, evidence).")
@argument("--out", help="Write the report to this file instead of showing it.")
def risk(ctx: Context, line: str) -> Any:
    """Model risk: %mlops risk show|set|validate|validations|summary|reviews|inventory|doc|evidence.

    Examples: ``%mlops risk set churn risk_tier=high lifecycle_status=production``,
    ``%mlops risk validate churn/3 approved --finding "low:calibration drifts on small segments"``,
    ``%mlops risk doc churn/3 --format pdf --out churn-v3.pdf``.
    """
    args = parse(risk, line)
    name, _, version = (args.subject or "").partition("/")
    if args.action in ("show", "set", "validate", "validations", "doc", "evidence") and not name:
        raise UsageError(f"Usage: %mlops risk {args.action} NAME[/VERSION] ...")
    mlops = ctx.mlops
    if args.action == "show":
        return _record(mlops.inventory(name, version or None))
    if args.action == "set":
        pairs = [word.partition("=") for word in args.values]
        if not pairs or any(not key or not sep for key, sep, _ in pairs):
            raise UsageError("Usage: %mlops risk set NAME[/VERSION] KEY=VALUE ..., e.g. risk_tier=high")
        return _record(mlops.set_inventory(name, {k: v or None for k, _, v in pairs}, version or None))
    if args.action == "validate":
        if not version or len(args.values) != 1:
            raise UsageError("Usage: %mlops risk validate NAME/VERSION approved|approved_with_conditions|rejected")
        findings = []
        for text in args.finding:
            severity, sep, description = text.partition(":")
            if not sep:
                raise UsageError("A finding is SEVERITY:TEXT, e.g. --finding 'medium:no fairness test'.")
            findings.append({"severity": severity.strip(), "description": description.strip()})
        found = mlops.validate_version(name, version, args.values[0], findings=findings, comment=args.comment)
        return Notice(f"Validation #{found.id} of {name} v{version}: {found.outcome} by {found.validator}.")
    if args.action == "validations":
        rows = [[v.id, v.version, v.validator, v.outcome, len(v.findings), f"{v.created_at:%Y-%m-%d}"]
                for v in mlops.validations(name, version or None)]  # fmt: skip
        return Table(
            f"Validations of {args.subject}", ["id", "version", "validator", "outcome", "findings", "on"], rows
        )
    if args.action == "summary":
        summary = as_dict(mlops.risk_summary())
        rows = [[k, v if not isinstance(v, (list, dict)) else ", ".join(f"{a}" for a in v) or "-"]
                for k, v in summary.items()]  # fmt: skip
        return Table("Model risk summary", ["", "value"], rows)
    if args.action == "reviews":
        alerts = mlops.check_reviews()
        rows = [[a.model, a.tier, a.due.isoformat(), a.days_overdue] for a in alerts]
        return Table("Reviews overdue (new alerts)", ["model", "tier", "due", "days overdue"], rows)
    if args.action == "inventory":
        body = mlops.inventory_report(args.as_of, args.fmt or "csv")
        return _report(body, args.fmt or "csv", args.out)
    if args.action == "doc":
        if not version:
            raise UsageError("Usage: %mlops risk doc NAME/VERSION [--format md|html|pdf] [--out FILE]")
        return _report(mlops.technical_documentation(name, version, args.fmt or "md"), args.fmt or "md", args.out)
    if not args.start or not args.end:
        raise UsageError("Usage: %mlops risk evidence DEPLOYMENT --start ISO --end ISO [--format md|html|pdf]")
    fmt = args.fmt or "md"
    return _report(mlops.logging_evidence(args.subject, args.start, args.end, fmt), fmt, args.out)


def _record(entry: Any) -> Table:
    data = as_dict(entry)
    return Table(f"Inventory of {data['model']}" + (f" v{data['version']}" if data.get("version") else ""),
                 ["field", "value"], [[k, v] for k, v in data.items() if k not in ("model", "version")])  # fmt: skip


def _report(body: bytes, fmt: str, out: str | None) -> Any:
    if out or fmt == "pdf":
        path = Path(out or "report.pdf")
        path.write_bytes(body)
        return Notice(f"Wrote {path} ({len(body)} bytes).")
    if fmt == "md":
        return Markdown(neutralize_markdown(body.decode()))
    from ..display import Preformatted

    return Preformatted(body.decode())
