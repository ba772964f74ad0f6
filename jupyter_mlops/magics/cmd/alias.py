"""``%mlops alias``: move or remove a registry alias (``champion``, ``challenger``, ...)."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments

from ..display import Notice
from . import Context, parse


@magic_arguments(name="mlops alias")
@argument("action", choices=["set", "rm"], help="set: point the alias at a version; rm: remove it.")
@argument("model", help="Registered model name.")
@argument("alias", help="Alias, e.g. champion.")
@argument("version", nargs="?", help="Version the alias points at (for set).")
def alias(ctx: Context, line: str) -> Any:
    """Point an alias at a version, or remove it: %mlops alias set churn champion 3 | %mlops alias rm churn champion."""
    args = parse(alias, line)
    if args.action == "set":
        if args.version is None:
            raise UsageError("Usage: %mlops alias set MODEL ALIAS VERSION, e.g. %mlops alias set churn champion 3")
        before = _pointed(ctx, args.model, args.alias)
        version = ctx.mlops.set_alias(args.model, args.alias, args.version)
        was = f"v{before}" if before else "nothing"
        return Notice(f"{version.name}@{args.alias}: {was} -> v{version.version}")
    if args.version is not None:
        raise UsageError("Usage: %mlops alias rm MODEL ALIAS (no version)")
    ctx.mlops.delete_alias(args.model, args.alias)
    return Notice(f"Removed alias {args.alias} of {args.model}.")


def _pointed(ctx: Context, model: str, alias_name: str) -> str | None:
    """The version an alias points at now (for the before -> after line), None when unset."""
    try:
        return ctx.mlops.model(model).aliases.get(alias_name)
    except Exception:  # the set call reports the real problem (unknown model) in its own words
        return None
