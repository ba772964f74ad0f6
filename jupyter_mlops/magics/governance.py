"""``%mlops SUBCOMMAND ...``: governance from the notebook, a dict router from subcommand to one function.

%mlops audit [TARGET]                     ledger entries (deployment/NAME, model/NAME, ...)
%mlops audit verify                       check the hash chain
%mlops audit served DEPLOYMENT TIME       which version served DEPLOYMENT at TIME (ISO 8601)
%mlops audit export csv|json [TARGET]     the ledger as text
%mlops approvals [STATUS]                 approval requests
%mlops request ACTION TARGET [K=V ...]    ask for a protected change: promote|rollback|sync deployment/NAME,
                                          set_traffic deployment/NAME primary=80 canary=20,
                                          deploy deployment/NAME model=churn/3, set_alias model/churn@champion version=3
%mlops approve ID [COMMENT]               grant a request (%mlops reject ID to refuse it)
%mlops card NAME[/VERSION]                the model card
%mlops lineage DEPLOYMENT|NAME[/VERSION]  deployment -> version -> run -> notebook/commit
%mlops token DEPLOYMENT                   a new bearer token for the endpoint
%mlops whoami                             your name, the server's owner and your role
"""

from __future__ import annotations

import html
import json
import shlex
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from ..core.errors import MLOpsError


class Table:
    """A small HTML table with a plain-text twin, for ledger entries and approvals."""

    def __init__(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        self.title, self.columns, self.rows = title, columns, rows

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
            for row in self.rows
        )
        return f"<div class='jp-MLOps-table'><b>{html.escape(self.title)}</b><table><tr>{head}</tr>{body}</table></div>"

    def __repr__(self) -> str:
        lines = [self.title, " | ".join(self.columns)]
        lines += [" | ".join("" if v is None else str(v) for v in row) for row in self.rows]
        return "\n".join(lines)


class Markdown:
    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def _short(value: Any) -> str:
    return "" if value is None else json.dumps(value, default=str)[:80]


def audit(mlops: Any, args: list[str]) -> Any:
    if args[:1] == ["verify"]:
        report = mlops.verify_audit()
        return Markdown(("✅ " if report.ok else "❌ ") + report.message)
    if args[:1] == ["served"]:
        if len(args) != 3:
            raise UsageError("Usage: %mlops audit served DEPLOYMENT 2026-11-27T05:00:00Z")
        served = mlops.served_at(args[1], args[2])
        if not served.serving:
            return Markdown(f"`{served.deployment}` served nothing at {served.at.isoformat()}.")
        return Markdown(
            f"`{served.deployment}` served **{served.model_name} v{served.model_version}** at "
            f"{served.at.isoformat()} (since {served.since.isoformat() if served.since else '?'}, "
            f"entry {served.event_seq})."
        )
    if args[:1] == ["export"]:
        if len(args) not in (2, 3) or args[1] not in ("csv", "json"):
            raise UsageError("Usage: %mlops audit export csv|json [TARGET]")
        return Markdown(f"```\n{mlops.export_audit(args[2] if len(args) == 3 else None, format=args[1])}\n```")
    if len(args) > 1:
        raise UsageError("Usage: %mlops audit [TARGET] | verify | served DEPLOYMENT TIME | export csv|json [TARGET]")
    events = mlops.audit_events(args[0] if args else None)
    rows = [
        [e.seq, e.at.isoformat(timespec="seconds"), e.action, e.actor, e.owner, e.target, e.outcome,
         _short(e.before), _short(e.after)]
        for e in events
    ]  # fmt: skip
    columns = ["seq", "at", "action", "actor", "owner", "target", "outcome", "before", "after"]
    return Table(f"Audit ledger ({len(rows)} entries)", columns, rows)


def approvals(mlops: Any, args: list[str]) -> Any:
    items = mlops.approvals(args[0] if args else None)
    rows = [
        [a.id, a.action, a.target, a.payload.get("version"), a.payload.get("proposed"), a.requested_by, a.status,
         a.decided_by]
        for a in items
    ]  # fmt: skip
    columns = ["id", "action", "target", "version", "proposed", "requested by", "status", "decided by"]
    return Table("Approval requests", columns, rows)


def request(mlops: Any, args: list[str]) -> Any:
    """Ask for a protected change; KEY=VALUE words are the payload (traffic weights for set_traffic)."""
    pairs = [word.partition("=") for word in args[2:]]
    if len(args) < 2 or any(not key or not sep for key, sep, _ in pairs):
        raise UsageError("Usage: %mlops request ACTION TARGET [KEY=VALUE ...], e.g. promote deployment/churn-prod")
    payload: dict[str, Any] = {key: value for key, _, value in pairs}
    if args[0] == "set_traffic":
        if not all(value.isdigit() for value in payload.values()):
            raise UsageError("Usage: %mlops request set_traffic deployment/NAME primary=80 canary=20")
        payload = {"weights": {key: int(value) for key, value in payload.items()}}
    approval = mlops.request_approval(args[0], args[1], payload or None)
    change = approval.payload.get("proposed") or f"version {approval.payload.get('version')}"
    return Markdown(
        f"Request #{approval.id}: {approval.action} {approval.target} ({change}) is **{approval.status}**; "
        "another approver grants it with `%mlops approve " + str(approval.id) + "`."
    )


def _decide(grant: bool) -> Callable[[Any, list[str]], Any]:
    def decide(mlops: Any, args: list[str]) -> Any:
        if not args or not args[0].isdigit():
            raise UsageError(f"Usage: %mlops {'approve' if grant else 'reject'} ID [COMMENT]")
        comment = " ".join(args[1:]) or None
        fn = mlops.grant if grant else mlops.reject
        approval = fn(int(args[0]), comment=comment)
        return Markdown(f"Request #{approval.id} ({approval.action} {approval.target}) is now **{approval.status}**.")

    return decide


def card(mlops: Any, args: list[str]) -> Any:
    if len(args) != 1:
        raise UsageError("Usage: %mlops card NAME[/VERSION]")
    name, _, version = args[0].partition("/")
    return Markdown(mlops.card(name, version or None).markdown)


def lineage(mlops: Any, args: list[str]) -> Any:
    if len(args) != 1:
        raise UsageError("Usage: %mlops lineage DEPLOYMENT|NAME[/VERSION]")
    chain = mlops.lineage(args[0])
    return Markdown(" → ".join(f"**{n.kind}** {n.label}" for n in chain.nodes))


def token(mlops: Any, args: list[str]) -> Any:
    if len(args) != 1:
        raise UsageError("Usage: %mlops token DEPLOYMENT")
    return Markdown(
        f"New token for `{args[0]}` (shown once; the previous one stopped working): `{mlops.issue_token(args[0])}`"
    )


def whoami(mlops: Any, args: list[str]) -> Any:
    me = mlops.whoami()
    return Markdown(f"You are **{me['user']}** with the **{me['role']}** role on {me['owner']}'s server.")


COMMANDS: dict[str, Callable[[Any, list[str]], Any]] = {
    "audit": audit,
    "approvals": approvals,
    "request": request,
    "approve": _decide(True),
    "reject": _decide(False),
    "card": card,
    "lineage": lineage,
    "token": token,
    "whoami": whoami,
}


@magics_class
class GovernanceMagics(Magics):
    """The ``%mlops`` line magic."""

    @line_magic
    def mlops(self, line: str) -> Any:
        """Governance: %mlops audit|approvals|request|approve|reject|card|lineage|token|whoami ... (see %mlops?)"""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"Could not parse the line: {exc}.") from None
        if not words or words[0] not in COMMANDS:
            raise UsageError(f"Usage: %mlops {'|'.join(COMMANDS)} ...")
        from ..core.api import client

        try:
            return COMMANDS[words[0]](client(), words[1:])
        except MLOpsError as exc:
            raise UsageError(exc.message) from None


GovernanceMagics.mlops.__doc__ = __doc__
