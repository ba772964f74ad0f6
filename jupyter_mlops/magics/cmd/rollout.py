"""``%mlops sync``: redeploy an alias-driven deployment when its alias moved, showing what changed."""

from __future__ import annotations

from typing import Any

from IPython.core.magic_arguments import argument, magic_arguments

from ..display import ChangeView
from . import Context, parse


@magic_arguments(name="mlops sync")
@argument("deployment", help="A deployment deployed as NAME@ALIAS.")
def sync(ctx: Context, line: str) -> Any:
    """Re-resolve the deployment's alias and roll the new version out (nothing to do when it did not move)."""
    args = parse(sync, line)
    before = ctx.mlops.deployment(args.deployment)
    return ChangeView("sync", before, ctx.mlops.sync(args.deployment))
