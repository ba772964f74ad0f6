"""``%mlops feedback``, ``alerts``, ``ack`` and ``rules``: ground truth and alerting from the notebook."""

from __future__ import annotations

import json
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments

from ..display import Notice, Table
from . import Context, as_dict, parse


@magic_arguments(name="mlops feedback")
@argument("deployment", help="Deployment name.")
@argument("--ids", required=True, help="Variable holding the request ids (X-MLOps-Request-Id headers).")
@argument("--labels", required=True, help="Variable holding the true labels, in the same order.")
def feedback(ctx: Context, line: str) -> Any:
    """Send ground-truth labels for logged requests: %mlops feedback churn-prod --ids ids --labels y_true."""
    args = parse(feedback, line)
    ids, labels = ctx.variable(args.ids, "--ids"), ctx.variable(args.labels, "--labels")
    result = as_dict(ctx.mlops.feedback(args.deployment, _listed(ids), _listed(labels)))
    return Notice(f"{result.get('accepted', 0)} labels recorded for {args.deployment}.")


def _listed(value: Any) -> Any:
    """Arrays and Series as plain lists (JSON-ready for the facade)."""
    return value.tolist() if hasattr(value, "tolist") else value


@magic_arguments(name="mlops alerts")
@argument("deployment", nargs="?", help="Deployment name (default: every deployment).")
def alerts(ctx: Context, line: str) -> Any:
    """Alerts, newest first, after evaluating the rules: %mlops alerts [DEPLOYMENT]."""
    args = parse(alerts, line)
    items = [as_dict(a) for a in ctx.mlops.alerts(args.deployment)]
    columns = ["id", "deployment", "rule", "state", "value", "threshold", "fired_at", "acknowledged_by", "message"]
    rows = [[a.get(c) for c in columns] for a in items]
    return Table(f"Alerts ({len(rows)})", columns, rows)


@magic_arguments(name="mlops ack")
@argument("id", type=int, help="Alert id.")
def ack(ctx: Context, line: str) -> Any:
    """Acknowledge a fired alert (recorded in the ledger); it stays firing until its condition clears."""
    args = parse(ack, line)
    after = as_dict(ctx.mlops.acknowledge_alert(args.id))
    return Notice(f"Alert {args.id} acknowledged by {after.get('acknowledged_by')}.")


_RULE_COLUMNS = ["name", "metric", "op", "threshold", "window_seconds", "webhook"]


@magic_arguments(name="mlops rules")
@argument("deployment", help="Deployment name.")
@argument(
    "--set", dest="set_rule", nargs=4, metavar=("NAME", "METRIC", "OP", "THRESHOLD"), help="Add or replace a rule."
)
@argument("--window", default="15m", help="Window of the rule set with --set (default 15m).")
@argument("--webhook", help="URL the rule set with --set posts to when it fires.")
@argument("--remove", metavar="NAME", help="Remove one of the deployment's own rules.")
def rules(ctx: Context, line: str) -> Any:
    """A deployment's alert rules; --set NAME METRIC OP THRESHOLD adds or replaces one, --remove NAME drops one."""
    args = parse(rules, line)
    current = [as_dict(r) for r in ctx.mlops.alert_rules(args.deployment)]
    if args.set_rule is None and args.remove is None:
        return _table(args.deployment, current)
    # Setting rules replaces the deployment's own rules: keep every current one (defaults included) but the change.
    mine = {r["name"]: {k: r[k] for k in ("name", "metric", "op", "threshold", "window_seconds") if k in r}
            | ({"webhook": r["webhook"]} if r.get("webhook") else {})
            for r in current}  # fmt: skip
    if args.remove is not None:
        if args.remove not in mine:
            raise UsageError(
                f"{args.deployment} has no rule named {args.remove!r}: %mlops rules {args.deployment} lists them."
            )
        del mine[args.remove]
    if args.set_rule is not None:
        name, metric, op, threshold = args.set_rule
        try:
            value = json.loads(threshold)
        except ValueError:
            raise UsageError(f"THRESHOLD must be a number, got {threshold!r}.") from None
        rule: dict[str, Any] = {"name": name, "metric": metric, "op": op, "threshold": value, "window": args.window}
        if args.webhook:
            rule["webhook"] = args.webhook
        mine[name] = rule
    return _table(args.deployment, [as_dict(r) for r in ctx.mlops.alert_rules(args.deployment, list(mine.values()))])


def _table(deployment: str, items: list[dict[str, Any]]) -> Table:
    """The deployment's rules as a table."""
    return Table(f"Alert rules of {deployment}", _RULE_COLUMNS, [[r.get(c) for c in _RULE_COLUMNS] for r in items])
