"""``jupyter mlops risk ...``: model risk management from the command line (issue 17), a thin door like the magic.

Inventory fields (``show``, ``set``), independent validation (``validate``, ``validations``), periodic review
(``review list``, ``review overdue``, ``summary``), the regulator reports (``inventory``, ``techdoc``,
``evidence``) and a deployment's declared retention (``retention``). Each subcommand makes facade calls only; the
rules (tiers, independence, the six-month minimum) are the core's, so they hold here as at every other door.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import render
from .commands import Output, UsageProblem

OUTCOMES = ("approved", "approved_with_conditions", "rejected")


def _ref(text: str, *, version: bool) -> tuple[str, str | None]:
    """``NAME`` or ``NAME/VERSION``; with ``version`` the version is required."""
    name, _, number = text.partition("/")
    if not name or (version and not number):
        raise UsageProblem(f"{text!r} is not NAME/VERSION, e.g. churn/3." if version else f"{text!r} is not a model.")
    return name, number or None


def _entry_rows(entry: Any) -> list[list[Any]]:
    data = render.plain(entry)
    return [[k, v] for k, v in data.items() if k not in ("model", "version")]


def _entry_output(entry: Any, as_json: bool) -> Output:
    if as_json:
        return Output(render.dumps(entry))
    title = f"{entry.model}" + (f" v{entry.version}" if entry.version else "")
    return Output(f"Inventory of {title}\n" + render.table(["field", "value"], _entry_rows(entry)))


def show(mlops: Any, args: Any) -> Output:
    """Show the inventory fields of a model or version."""
    name, version = _ref(args.ref, version=False)
    return _entry_output(mlops.inventory(name, version), args.json)


def set_fields(mlops: Any, args: Any) -> Output:
    """Set inventory fields (KEY=VALUE; an empty value clears the field)."""
    name, version = _ref(args.ref, version=False)
    fields: dict[str, Any] = {}
    for word in args.fields:
        key, sep, value = word.partition("=")
        if not key or not sep:
            raise UsageProblem(f"{word!r} is not KEY=VALUE, e.g. risk_tier=high or next_review_due=2027-06-30.")
        fields[key.strip()] = value.strip() or None
    return _entry_output(mlops.set_inventory(name, fields, version), args.json)


def validate(mlops: Any, args: Any) -> Output:
    """Record an independent validation of a version (you must neither have registered nor own it)."""
    name, version = _ref(args.ref, version=True)
    assert version is not None
    findings = []
    for text in args.finding:
        severity, sep, description = text.partition(":")
        if not sep or not description.strip():
            raise UsageProblem(f"A finding is SEVERITY:TEXT, e.g. --finding 'medium:no fairness test' (got {text!r}).")
        findings.append({"severity": severity.strip(), "description": description.strip()})
    made = mlops.validate_version(
        name, version, args.outcome, findings=findings, evidence=args.evidence, comment=args.comment
    )
    if args.json:
        return Output(render.dumps(made))
    return Output(f"Validation #{made.id} of {name} v{version}: {made.outcome} by {made.validator}.")


def validations(mlops: Any, args: Any) -> Output:
    """List the validations of a model (or one version), newest first."""
    name, version = _ref(args.ref, version=False)
    found = mlops.validations(name, version)
    if args.json:
        return Output(render.dumps([v.model_dump(mode="json", exclude={"evidence"}) for v in found]))
    rows = [[v.id, v.version, v.validator, v.outcome, len(v.findings), f"{v.created_at:%Y-%m-%d}"] for v in found]
    headers = ["id", "version", "validator", "outcome", "findings", "on"]
    return Output(render.table(headers, rows) if rows else f"No validations of {args.ref}.")


def summary(mlops: Any, args: Any) -> Output:
    """Models by tier and lifecycle, reviews overdue, production models never validated."""
    found = mlops.risk_summary()
    if args.json:
        return Output(render.dumps(found))
    rows: list[list[Any]] = [["models", found.models]]
    rows += [[f"tier {k}", v] for k, v in sorted(found.by_tier.items())]
    rows += [[f"lifecycle {k}", v] for k, v in sorted(found.by_lifecycle.items())]
    rows += [["review overdue", f"{found.review_overdue} {' '.join(found.overdue)}".strip()]]
    rows += [["production never validated", f"{found.production_never_validated} {' '.join(found.never_validated)}"]]
    return Output(render.table(["", "value"], rows))


def _reviews(mlops: Any) -> list[dict[str, Any]]:
    """Every registered model's review state, from one inventory report (not one call per model)."""
    rows = json.loads(mlops.inventory_report(None, "json"))["items"]
    return [
        {
            "model": r["model"],
            "risk_tier": r["risk_tier"] or None,
            "lifecycle_status": r["lifecycle_status"] or None,
            "validation_status": r["validation_status"],
            "validated_at": r["validated_at"] or None,
            "next_review_due": r["next_review_due"] or None,
            "overdue": r["review_overdue"] == "yes",
            "never_validated": r["lifecycle_status"] == "production" and not r["validated_at"],
        }
        for r in rows
    ]


def review_list(mlops: Any, args: Any) -> Output:
    """Every registered model with its tier, lifecycle, validation and next review date (overdue marked)."""
    items = _reviews(mlops)
    items.sort(key=lambda e: (e["next_review_due"] is None, e["next_review_due"] or "", e["model"]))
    if args.json:
        return Output(render.dumps(items))
    rows = [[e["model"], e["risk_tier"], e["lifecycle_status"], e["validation_status"], e["next_review_due"],
             "OVERDUE" if e["overdue"] else ""] for e in items]  # fmt: skip
    headers = ["model", "tier", "lifecycle", "validation", "next review", ""]
    return Output(render.table(headers, rows) if rows else "No models.")


def review_overdue(mlops: Any, args: Any) -> Output:
    """Models past their review date; raises the review alert (once per due date) for newly overdue ones."""
    raised = {a.model for a in mlops.check_reviews()}
    items = [
        {"model": e["model"], "risk_tier": e["risk_tier"], "next_review_due": e["next_review_due"],
         "alert_raised_now": e["model"] in raised}
        for e in _reviews(mlops) if e["overdue"]
    ]  # fmt: skip
    if args.json:
        return Output(render.dumps(items))
    rows = [[e["model"], e["risk_tier"], e["next_review_due"], "new alert" if e["alert_raised_now"] else ""]
            for e in items]  # fmt: skip
    return Output(render.table(["model", "tier", "due", ""], rows) if rows else "No review is overdue.")


def _needs_file(args: Any) -> None:
    """Refuse a PDF to stdout before building it."""
    if args.format == "pdf" and not args.out:
        raise UsageProblem("A PDF is binary: give -o FILE to write it.")


def _report(body: bytes, fmt: str, out: str | None, what: str) -> Output:
    """A report on stdout (text formats) or in a file."""
    if out:
        try:
            Path(out).write_bytes(body)
        except OSError as exc:
            raise UsageProblem(f"Cannot write {out!r}: {exc.strerror or exc}.") from None
        return Output(f"Wrote {what} to {out} ({len(body)} bytes).")
    return Output(body.decode().rstrip("\n"))


def inventory(mlops: Any, args: Any) -> Output:
    """The model inventory as of a date (SR 11-7 fields) as csv, json, html or pdf."""
    _needs_file(args)
    body = mlops.inventory_report(args.as_of, args.format)
    return _report(body, args.format, args.out, "the model inventory")


def techdoc(mlops: Any, args: Any) -> Output:
    """A version's technical documentation (EU AI Act Annex IV sections) as md, html or pdf."""
    _needs_file(args)
    name, version = _ref(args.ref, version=True)
    assert version is not None
    body = mlops.technical_documentation(name, version, args.format)
    return _report(body, args.format, args.out, f"the technical documentation of {name} v{version}")


def evidence(mlops: Any, args: Any) -> Output:
    """Article 12 logging evidence of a deployment over a period, as json, md, html or pdf."""
    _needs_file(args)
    body = mlops.logging_evidence(args.deployment, args.start, args.end, args.format)
    return _report(body, args.format, args.out, f"the logging evidence of {args.deployment}")


def retention(mlops: Any, args: Any) -> Output:
    """Declare how long a deployment's inference log and ledger entries are kept (days; 0 = forever)."""
    if args.inference_log_days is None and args.ledger_days is None:
        raise UsageProblem("Give --inference-log-days N and/or --ledger-days N (0 keeps records forever).")
    kept = mlops.set_retention(
        args.deployment,
        inference_log_days=args.inference_log_days,
        ledger_days=args.ledger_days,
        override=args.override,
    )
    if args.json:
        return Output(render.dumps(kept))

    def days(value: float | None) -> str:
        return "default" if value is None else "forever" if value == 0 else f"{value:g} days"

    note = " (admin override of the six-month minimum)" if kept.overridden else ""
    return Output(
        f"Retention of {kept.deployment}: inference log {days(kept.inference_log_days)}, "
        f"ledger {days(kept.ledger_days)}{note}."
    )


def _days(text: str) -> float:
    """A number of days for argparse (0 or more)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if value < 0:
        raise argparse.ArgumentTypeError("days must be 0 or more (0 keeps records forever)")
    return value


def add_parser(add: Callable[[str, Any, str], argparse.ArgumentParser], json_flag: Callable[..., None]) -> None:
    """Add ``risk`` and its subcommands to the ``jupyter mlops`` parser.

    Args:
        add: The root's function adding a subcommand bound to its function.
        json_flag: The root's function giving a read command ``--json``.
    """
    parser = add("risk", show, "Model risk: inventory fields, validation, reviews, reports, retention.")
    cls = type(parser)
    sub = parser.add_subparsers(dest="risk_cmd", metavar="COMMAND", parser_class=cls)
    sub.required = True

    def cmd(name: str, func: Any, text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(func=func)
        return p

    p = cmd("show", show, "Show the inventory fields of NAME or NAME/VERSION.")
    p.add_argument("ref", metavar="NAME[/VERSION]")
    json_flag(p)
    p = cmd("set", set_fields, "Set inventory fields: set churn risk_tier=high lifecycle_status=production.")
    p.add_argument("ref", metavar="NAME[/VERSION]")
    p.add_argument("fields", nargs="+", metavar="KEY=VALUE",
                   help="purpose, intended_use, business_owner, technical_owner, risk_tier, lifecycle_status, "
                   "next_review_due (YYYY-MM-DD); an empty VALUE clears the field.")  # fmt: skip
    json_flag(p)
    p = cmd("validate", validate, "Record an independent validation of NAME/VERSION.")
    p.add_argument("ref", metavar="NAME/VERSION")
    p.add_argument("outcome", choices=OUTCOMES)
    p.add_argument("--finding", action="append", default=[], metavar="SEVERITY:TEXT",
                   help="A finding (low, medium, high, critical), repeatable.")  # fmt: skip
    p.add_argument("--evidence", action="append", choices=["metrics", "parity", "monitoring", "card"],
                   help="Evidence to attach, repeatable (default: all).")  # fmt: skip
    p.add_argument("--comment", help="A comment, or the conditions of an approval.")
    json_flag(p)
    p = cmd("validations", validations, "List the validations of NAME or NAME/VERSION.")
    p.add_argument("ref", metavar="NAME[/VERSION]")
    json_flag(p)
    p = cmd("summary", summary, "Counts: models by tier and lifecycle, reviews overdue, never validated.")
    json_flag(p)
    p = cmd("review", review_list, "Periodic review: review list | review overdue.")
    review_sub = p.add_subparsers(dest="review_cmd", metavar="list|overdue", parser_class=cls)
    review_sub.required = True
    r = review_sub.add_parser("list", help="Every model's next review date.")
    r.set_defaults(func=review_list)
    json_flag(r)
    r = review_sub.add_parser("overdue", help="Models past their review date (raises the review alerts).")
    r.set_defaults(func=review_overdue)
    json_flag(r)
    p = cmd("inventory", inventory, "The model inventory report (SR 11-7) as of a date.")
    p.add_argument("--as-of", dest="as_of", metavar="YYYY-MM-DD", help="Default: today.")
    p.add_argument("--format", choices=["csv", "json", "html", "pdf"], default="csv")
    p.add_argument("-o", "--out", metavar="FILE", help="Write the report here (required for pdf).")
    p = cmd("techdoc", techdoc, "Technical documentation of NAME/VERSION (EU AI Act Annex IV).")
    p.add_argument("ref", metavar="NAME/VERSION")
    p.add_argument("--format", choices=["md", "html", "pdf"], default="md")
    p.add_argument("-o", "--out", metavar="FILE", help="Write the document here (required for pdf).")
    p = cmd("evidence", evidence, "Logging evidence (EU AI Act Article 12) of DEPLOYMENT over a period.")
    p.add_argument("deployment")
    p.add_argument("--start", required=True, help="ISO 8601, e.g. 2026-11-01T00:00:00Z.")
    p.add_argument("--end", required=True, help="ISO 8601, after --start.")
    p.add_argument("--format", choices=["json", "md", "html", "pdf"], default="json")
    p.add_argument("-o", "--out", metavar="FILE", help="Write the evidence here (required for pdf).")
    p = cmd("retention", retention, "Declare DEPLOYMENT's retention (days; 0 = forever).")
    p.add_argument("deployment")
    p.add_argument("--inference-log-days", type=_days, metavar="N")
    p.add_argument("--ledger-days", type=_days, metavar="N")
    p.add_argument("--override", action="store_true",
                   help="Admin only: allow less than six months on a high-risk deployment (audited).")  # fmt: skip
    json_flag(p)
