"""``%mlops log``: what the magics captured (library warnings, MLflow's chatter, our log lines), on request."""

from __future__ import annotations

from typing import Any

from IPython.core.magic_arguments import argument, magic_arguments

from ..display import Preformatted
from ..quiet import CAPTURED
from . import Context, parse


@magic_arguments(name="mlops log")
@argument("lines", nargs="?", type=int, default=50, help="How many of the last lines (default 50).")
def log(ctx: Context, line: str) -> Any:
    """Show the last lines the magics kept quiet: warnings, MLflow messages, alerts."""
    args = parse(log, line)
    kept = list(CAPTURED)[-max(args.lines, 1) :]
    return Preformatted("\n".join(kept) if kept else "Nothing captured yet.")
