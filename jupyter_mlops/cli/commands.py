"""One function per ``jupyter mlops`` subcommand: arguments -> one facade call -> output text and exit code.

Each function takes the facade (acting as the process's user) and the parsed arguments and returns an
:class:`Output`. Logic belongs in core; this module only parses, calls and renders.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..core.errors import MLOpsError
from ..core.models import Deployment, RuntimeStatus
from ..magics import settings_args
from . import render


class UsageProblem(Exception):
    """A mistake in the command line or its input: exit code 2, one line on stderr."""


class OperationFailed(Exception):
    """The operation ran and failed (verify found tampering, predict refused): exit code 1, one line on stderr."""


@dataclass
class Output:
    """What a subcommand prints on stdout and the exit code it ends with."""

    text: str = ""
    code: int = 0
    error: str | None = None  # with a non-zero code: the one line for stderr


Command = Callable[[Any, Any], Output]


def _read_input(source: str, what: str) -> str:
    """Text of ``-`` (stdin) or a file; a missing or unreadable file is a usage problem."""
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text()
    except OSError as exc:
        raise UsageProblem(f"Cannot read {what} {source!r}: {exc.strerror or exc}.") from None


def _json_or_csv(text: str, source: str, content_type: str | None) -> Any:
    """Input data: JSON (MLflow's scoring formats) or CSV (a header row, then rows), by flag, suffix or content."""
    kind = content_type or ("csv" if source.endswith(".csv") else "json" if source.endswith(".json") else None)
    if kind is None:
        kind = "json" if text.lstrip()[:1] in ("{", "[") else "csv"
    if kind == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise UsageProblem(f"The input is not valid JSON ({exc}); send MLflow's scoring JSON or CSV.") from None
    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(text))
    except Exception as exc:  # pandas raises several parser error types
        raise UsageProblem(f"The input is not valid CSV ({exc}).") from None
    if frame.empty:
        raise UsageProblem("The CSV input has no rows: send a header line and at least one row.")
    return frame


# --- registry -------------------------------------------------------------------------------------------------


def models(mlops: Any, args: Any) -> Output:
    """List registered models."""
    items = [render.model_shape(m) for m in mlops.models(args.filter, max_results=1000).items]
    if args.json:
        return Output(render.dumps(items))
    rows = [[m["name"], m["latest_version"], " ".join(f"{a}->v{v}" for a, v in sorted(m["aliases"].items())),
             m["versions"], m["updated_at"]] for m in items]  # fmt: skip
    return Output(render.table(["model", "latest", "aliases", "versions", "updated"], rows) if rows else "No models.")


def versions(mlops: Any, args: Any) -> Output:
    """List the versions of a model, newest first."""
    items = [render.version_shape(v) for v in mlops.versions(args.name)]
    if args.json:
        return Output(render.dumps(items))
    rows = [[v["version"], ",".join(v["aliases"]), v["status"], v["created_at"], v["uri"]] for v in items]
    return Output(render.table(["version", "aliases", "status", "created", "uri"], rows))


def register(mlops: Any, args: Any) -> Output:
    """Register a runs:/ or models:/ URI as a new version."""
    if not args.uri.startswith(("runs:/", "models:/")):
        raise UsageProblem(f"{args.uri!r} is not a runs:/ or models:/ URI, e.g. runs:/<run_id>/model.")
    reference = _reference(args.reference, args.label_column) if args.reference else None
    version = mlops.register(args.uri, args.name, alias=args.alias, description=args.description, reference=reference)
    if args.json:
        return Output(render.dumps(render.version_shape(version)))
    return Output(f"Registered {version.name} version {version.version} ({version.uri}).")


def _reference(path: str, label_column: str | None) -> Any:
    """The labelled reference CSV as (X_ref, y_ref), split on its label column."""
    import pandas as pd

    from ..core.monitoring.reference import split_labelled

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise UsageProblem(f"Cannot read the reference file {path!r}: {exc}") from None
    return split_labelled(table, label_column)


def alias(mlops: Any, args: Any) -> Output:
    """Point an alias at a version, or remove it."""
    if args.alias_cmd == "set":
        version = mlops.set_alias(args.name, args.alias, args.version)
        return Output(f"{version.name}@{args.alias} -> v{version.version}")
    mlops.delete_alias(args.name, args.alias)
    return Output(f"Removed alias {args.alias} of {args.name}.")


# --- deployments ----------------------------------------------------------------------------------------------


def _progress(stream: TextIO) -> Callable[[RuntimeStatus], None]:
    """Deploy steps as lines on a terminal (stderr), each step once when it changes."""
    seen: dict[str, str] = {}

    def show(status: RuntimeStatus) -> None:
        """Print the steps whose status changed."""
        for step in status.steps:
            if seen.get(step.name) != step.status.value:
                seen[step.name] = step.status.value
                note = f" ({step.message})" if step.message and step.status.value == "failed" else ""
                stream.write(f"  {step.name}: {step.status.value}{note}\n")
                stream.flush()

    return show


def deploy(mlops: Any, args: Any) -> Output:
    """Deploy a model reference as a live endpoint (or add it as a canary/shadow, or replace the model)."""
    if args.canary is not None and not 0 < args.canary < 100:
        raise UsageProblem("--canary is the canary's share of traffic: a whole number between 1 and 99.")
    settings = _settings(args)
    stream = args.stderr
    on_progress = _progress(stream) if stream.isatty() and not args.json else None
    deployment = mlops.deploy(
        args.ref, args.as_name, target=args.target, wait=not args.no_wait, replace=args.replace,
        on_progress=on_progress, canary=args.canary, shadow=args.shadow, isolated=args.isolated,
        settings=settings or None,
    )  # fmt: skip
    if args.json:
        return Output(render.dumps(render.deployment_shape(deployment)))
    summary = f"{deployment.name}: {deployment.state.value}, {render.variants_text(deployment)}"
    return Output(f"{summary}\n{deployment.url}" if deployment.url else summary)


def _settings(args: Any) -> dict[str, Any]:
    """The settings given by ``--set KEY=VALUE`` and the dedicated flags (a malformed word is a usage error)."""
    try:
        return settings_args.from_flags(
            args.settings, timeout_ms=args.timeout_ms, max_queue=args.max_queue, max_rows=args.max_rows,
            auto_rollback=args.auto_rollback,
        )  # fmt: skip
    except settings_args.SettingsSyntaxError as exc:
        raise UsageProblem(str(exc)) from None


def settings(mlops: Any, args: Any) -> Output:
    """Show a deployment's settings, or change the given ones (waits until the daemon serves with them)."""
    current = mlops.configure(args.name, **_settings(args)).model_dump(mode="json")
    if args.json:
        return Output(render.dumps(current))
    rows = [[key, json.dumps(value) if isinstance(value, (dict, list, bool)) or value is None else str(value)]
            for key, value in settings_args.flatten(current)]  # fmt: skip
    return Output(render.table(["setting", "value"], rows))


def deployments(mlops: Any, args: Any) -> Output:
    """List deployments with state, what serves them and their endpoint."""
    items = mlops.deployments()
    if args.json:
        return Output(render.dumps([render.deployment_shape(d) for d in items]))
    rows = [[d.name, d.state.value, render.variants_text(d), d.target, d.url] for d in items]
    return Output(
        render.table(["deployment", "state", "serving", "target", "url"], rows) if rows else "No deployments."
    )


def status(mlops: Any, args: Any) -> Output:
    """One deployment: state, steps, variants, endpoint."""
    d = mlops.deployment(args.name)
    if args.json:
        return Output(render.dumps(render.deployment_shape(d)))
    lines = [f"{d.name}: {d.state.value}", f"serving: {render.variants_text(d)}", f"deployed as: {d.model_ref}",
             f"target: {d.target}", f"url: {d.url or '-'}"]  # fmt: skip
    lines += [f"step {s.name}: {s.status.value}" + (f" ({s.message})" if s.message else "") for s in d.steps]
    if d.message:
        lines.append(f"message: {d.message}")
    return Output("\n".join(lines))


def predict(mlops: Any, args: Any) -> Output:
    """Score input (JSON in MLflow's formats, or CSV) with a deployment; predictions as JSON on stdout."""
    data = _json_or_csv(_read_input(args.input, "input"), args.input, args.content_type)
    try:
        predictions = mlops.predict(args.name, data)
    except MLOpsError as exc:
        if exc.status == 404:
            raise
        raise OperationFailed(exc.message) from None
    return Output(json.dumps({"predictions": render.plain(predictions)}, default=str))


def traffic(mlops: Any, args: Any) -> Output:
    """Set traffic weights by variant name or role."""
    weights: dict[str, int] = {}
    for pair in args.weights:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value.strip().isdigit():
            raise UsageProblem(f"Expected ROLE=PCT (e.g. canary=20), got {pair!r}.")
        weights[key] = int(value)
    return _change(mlops, args, "traffic", lambda: mlops.set_traffic(args.name, weights))


def _change(mlops: Any, args: Any, action: str, apply: Callable[[], Deployment]) -> Output:
    """A rollout step, shown as before -> after (or the deployment after it, with --json)."""
    before = mlops.deployment(args.name)
    after = apply()
    if args.json:
        return Output(render.dumps(render.deployment_shape(after)))
    return Output(f"{action} {after.name}: {render.variants_text(before)} -> {render.variants_text(after)}")


def promote(mlops: Any, args: Any) -> Output:
    """Make the canary (or shadow) the primary at 100%."""
    return _change(mlops, args, "promote", lambda: mlops.promote(args.name))


def rollback(mlops: Any, args: Any) -> Output:
    """Drop the canary, or go back to the previous primary."""
    return _change(mlops, args, "rollback", lambda: mlops.rollback(args.name))


def sync(mlops: Any, args: Any) -> Output:
    """Redeploy an alias-driven deployment whose alias moved."""
    return _change(mlops, args, "sync", lambda: mlops.sync(args.name))


def undeploy(mlops: Any, args: Any) -> Output:
    """Stop a deployment and remove its endpoint (idempotent)."""
    existed = mlops.undeploy(args.name)
    return Output(f"Undeployed {args.name}." if existed else f"No deployment named {args.name}; nothing to do.")


# --- monitoring -----------------------------------------------------------------------------------------------


def monitor(mlops: Any, args: Any) -> Output:
    """A deployment's monitoring report over a window."""
    report = render.plain(mlops.monitor(args.name, args.window))
    if args.json:
        return Output(render.dumps(report))
    health = report.get("health") or {}
    ops = report.get("ops_summary") or report.get("summary") or {}
    lines = [
        f"{args.name} over {args.window}: health {health.get('status', 'unknown')} {health.get('score') or ''}".rstrip()
    ]
    lines += [f"{k}: {v}" for k, v in sorted(ops.items()) if not isinstance(v, (dict, list))]
    drift = (report.get("drift") or {}).get("features") or []
    if drift:
        rows = [
            [f.get("feature"), f.get("statistic"), f.get("value"), f.get("threshold"), f.get("drifted")] for f in drift
        ]
        lines += ["", render.table(["feature", "statistic", "value", "threshold", "drifted"], rows)]
    return Output("\n".join(lines))


def alerts(mlops: Any, args: Any) -> Output:
    """Alerts, newest first, after evaluating the rules."""
    items = [render.plain(a) for a in mlops.alerts(args.name)]
    if args.json:
        return Output(render.dumps(items))
    columns = ["id", "deployment", "rule", "state", "value", "threshold", "fired_at"]
    rows = [[a.get(c) for c in columns] for a in items]
    return Output(render.table(columns, rows) if rows else "No alerts.")


def feedback(mlops: Any, args: Any) -> Output:
    """Ground-truth labels for logged requests: JSON {"request_ids": [...], "labels": [...]} or CSV request_id,label."""
    data = _json_or_csv(_read_input(args.input, "feedback"), args.input, None)
    if isinstance(data, dict) and isinstance(data.get("request_ids"), list) and isinstance(data.get("labels"), list):
        ids, labels = data["request_ids"], data["labels"]
    elif hasattr(data, "columns") and {"request_id", "label"} <= set(data.columns):
        ids, labels = data["request_id"].astype(str).tolist(), data["label"].tolist()
    else:
        raise UsageProblem(
            'Feedback is JSON {"request_ids": [...], "labels": [...]} or CSV with request_id,label columns.'
        )
    result = render.plain(mlops.feedback(args.name, ids, labels))
    if args.json:
        return Output(render.dumps(result))
    return Output(f"{result.get('accepted', 0)} labels recorded for {args.name}.")


# --- governance -----------------------------------------------------------------------------------------------


def audit(mlops: Any, args: Any) -> Output:
    """The ledger as JSON or CSV (whole entries, never cut)."""
    return Output(mlops.export_audit(args.target, format=args.format, since=args.since).rstrip("\n"))


def audit_verify(mlops: Any, args: Any) -> Output:
    """Recompute the ledger's hash chain; exit 1 when an entry was edited, removed or inserted."""
    report = mlops.verify_audit()
    if report.ok:
        return Output(render.dumps(report) if args.json else report.message)
    return Output(render.dumps(report) if args.json else "", 1, report.message)


def audit_served(mlops: Any, args: Any) -> Output:
    """Which version served a deployment at a time."""
    answer = mlops.served_at(args.name, args.time)
    if args.json:
        return Output(render.dumps(answer))
    if not answer.serving:
        return Output(f"{answer.deployment} served nothing at {answer.at.isoformat()}.")
    return Output(f"{answer.deployment} served {answer.model_name} v{answer.model_version} at {answer.at.isoformat()}"
                  f" (ledger entry {answer.event_seq}).")  # fmt: skip


def _approval_shape(a: Any) -> dict[str, Any]:
    """``approvals --json`` item."""
    data = render.plain(a)
    return {k: data.get(k) for k in ("id", "action", "target", "payload", "requested_by", "owner", "status",
                                     "decided_by", "comment", "created_at", "decided_at")}  # fmt: skip


def approvals_list(mlops: Any, args: Any) -> Output:
    """Approval requests (optionally of one status)."""
    items = [_approval_shape(a) for a in mlops.approvals(args.status)]
    if args.json:
        return Output(render.dumps(items))
    rows = [[a["id"], a["action"], a["target"], (a["payload"] or {}).get("version"), a["requested_by"], a["status"],
             a["decided_by"]] for a in items]  # fmt: skip
    columns = ["id", "action", "target", "version", "requested by", "status", "decided by"]
    return Output(render.table(columns, rows) if rows else "No approval requests.")


def approvals_request(mlops: Any, args: Any) -> Output:
    """Ask for a protected change; KEY=VALUE words are the payload (ROLE=PCT weights for set_traffic)."""
    pairs = [word.partition("=") for word in args.payload]
    if any(not key or not sep for key, sep, _ in pairs):
        raise UsageProblem("Payload words are KEY=VALUE, e.g. version=3 or primary=80 canary=20.")
    payload: dict[str, Any] = {key: value for key, _, value in pairs}
    if args.action == "set_traffic":
        if not payload or not all(v.isdigit() for v in payload.values()):
            raise UsageProblem("set_traffic needs ROLE=PCT words, e.g. primary=80 canary=20.")
        payload = {"weights": {k: int(v) for k, v in payload.items()}}
    approval = mlops.request_approval(args.action, args.target, payload or None)
    if args.json:
        return Output(render.dumps(_approval_shape(approval)))
    return Output(f"Request #{approval.id}: {approval.action} {approval.target} is {approval.status}.")


def approvals_decide(mlops: Any, args: Any) -> Output:
    """Grant or reject a pending request."""
    decide = mlops.grant if args.approvals_cmd == "grant" else mlops.reject
    approval = decide(args.id, comment=args.comment)
    if args.json:
        return Output(render.dumps(_approval_shape(approval)))
    return Output(f"Request #{approval.id} ({approval.action} {approval.target}) is now {approval.status}.")


def card(mlops: Any, args: Any) -> Output:
    """A version's model card (Markdown text, or the card's fields with --json)."""
    name, _, version = args.ref.partition("/")
    model_card = mlops.card(name, version or None)
    return Output(render.dumps(model_card) if args.json else model_card.markdown.rstrip("\n"))
