"""``%mlops settings``: read or change a deployment's serving and monitoring settings (``configure``)."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments

from ..display import Table
from ..settings_args import EXAMPLE, SettingsSyntaxError, flatten, from_flags
from . import Context, as_dict, parse


@magic_arguments(name="mlops settings")
@argument("deployment", help="Deployment name.")
@argument("changes", nargs="*", metavar="KEY=VALUE", help=f"Settings to change, e.g. {EXAMPLE}.")
def settings(ctx: Context, line: str) -> Any:
    """Show a deployment's settings, or change some: %mlops settings churn-prod max_rows=1000 auto_rollback=off."""
    args = parse(settings, line)
    try:
        changes = from_flags(args.changes)
    except SettingsSyntaxError as exc:
        raise UsageError(str(exc)) from None
    before = flatten(as_dict(ctx.mlops.configure(args.deployment))) if changes else []
    after = flatten(as_dict(ctx.mlops.configure(args.deployment, **changes)))
    if not changes:
        return Table(f"Settings of {args.deployment}", ["setting", "value"], [list(row) for row in after])
    old = dict(before)
    rows = [[key, old.get(key), value] for key, value in after if old.get(key) != value]
    return Table(f"Settings of {args.deployment} changed", ["setting", "was", "now"], rows)
