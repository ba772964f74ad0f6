"""``%mlops approvals``, ``request``, ``approve`` and ``reject``: protected changes from the notebook."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments

from ..display import Markdown, Table, md_escape
from . import Context, parse


@magic_arguments(name="mlops approvals")
@argument("status", nargs="?", help="pending, granted, rejected, used or expired (default: all).")
def approvals(ctx: Context, line: str) -> Any:
    """Approval requests, with what each would change and who decided."""
    args = parse(approvals, line)
    items = ctx.mlops.approvals(args.status)
    rows = [
        [a.id, a.action, a.target, a.payload.get("version"), a.payload.get("proposed"), a.requested_by, a.status,
         a.decided_by]
        for a in items
    ]  # fmt: skip
    columns = ["id", "action", "target", "version", "proposed", "requested by", "status", "decided by"]
    return Table("Approval requests", columns, rows)


@magic_arguments(name="mlops request")
@argument("action", help="promote, rollback, sync, set_traffic, deploy or set_alias.")
@argument("target", help="deployment/NAME or model/NAME@ALIAS.")
@argument("payload", nargs="*", default=[], help="KEY=VALUE words: model=churn/3, version=3, primary=80 canary=20.")
def request(ctx: Context, line: str) -> Any:
    """Ask for a protected change; KEY=VALUE words are the payload (traffic weights for set_traffic)."""
    args = parse(request, line)
    pairs = [word.partition("=") for word in args.payload]
    if any(not key or not sep for key, sep, _ in pairs):
        raise UsageError("Usage: %mlops request ACTION TARGET [KEY=VALUE ...], e.g. promote deployment/churn-prod")
    payload: dict[str, Any] = {key: value for key, _, value in pairs}
    if args.action == "set_traffic":
        if not payload or not all(value.isdigit() for value in payload.values()):
            raise UsageError("Usage: %mlops request set_traffic deployment/NAME primary=80 canary=20")
        payload = {"weights": {key: int(value) for key, value in payload.items()}}
    approval = ctx.mlops.request_approval(args.action, args.target, payload or None)
    change = approval.payload.get("proposed") or f"version {approval.payload.get('version')}"
    return Markdown(
        f"Request #{approval.id}: {md_escape(approval.action)} {md_escape(approval.target)} ({md_escape(change)}) "
        f"is **{md_escape(approval.status)}**; another approver grants it with `%mlops approve {approval.id}`."
    )


def _decision(approval: Any) -> Markdown:
    """The outcome of a grant or reject, as Markdown."""
    return Markdown(
        f"Request #{approval.id} ({md_escape(approval.action)} {md_escape(approval.target)}) is now "
        f"**{md_escape(approval.status)}**."
    )


@magic_arguments(name="mlops approve")
@argument("id", type=int, help="Approval request id.")
@argument("comment", nargs="*", default=[], help="Why (recorded).")
def approve(ctx: Context, line: str) -> Any:
    """Grant a pending request (approver role, not the requester); the change may then be made once."""
    args = parse(approve, line)
    return _decision(ctx.mlops.grant(args.id, comment=" ".join(args.comment) or None))


@magic_arguments(name="mlops reject")
@argument("id", type=int, help="Approval request id.")
@argument("comment", nargs="*", default=[], help="Why (recorded).")
def reject(ctx: Context, line: str) -> Any:
    """Refuse a pending request."""
    args = parse(reject, line)
    return _decision(ctx.mlops.reject(args.id, comment=" ".join(args.comment) or None))
