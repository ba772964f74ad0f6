"""``%mlops token`` and ``%mlops whoami``: endpoint tokens and who the notebook acts as."""

from __future__ import annotations

from typing import Any

from IPython.core.magic_arguments import argument, magic_arguments

from ..display import Markdown, md_escape
from . import Context, as_dict, parse


@magic_arguments(name="mlops token")
@argument("deployment", help="Deployment name.")
def token(ctx: Context, line: str) -> Any:
    """A new bearer token for a deployment's endpoint; the previous one stops working."""
    args = parse(token, line)
    issued = ctx.mlops.issue_token(args.deployment)
    return Markdown(
        f"New token for `{md_escape(args.deployment)}` (shown once; the previous one stopped working): "
        f"`{md_escape(issued)}`"
    )


@magic_arguments(name="mlops whoami")
def whoami(ctx: Context, line: str) -> Any:
    """Your name, the server's owner and your role."""
    parse(whoami, line)
    me = as_dict(ctx.mlops.whoami())
    return Markdown(
        f"You are **{md_escape(me.get('user'))}** with the **{md_escape(me.get('role'))}** role on "
        f"{md_escape(me.get('owner'))}'s server."
    )
