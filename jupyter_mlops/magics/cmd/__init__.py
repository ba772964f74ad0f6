"""One module per ``%mlops`` subcommand, each with its own ``magic_arguments`` parser (jupysql's layout).

Every subcommand is a function ``(ctx, line) -> displayable`` decorated with ``@magic_arguments(name="mlops X")``;
``mlops_cmd.COMMANDS`` routes the first word of the line to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from IPython.core.error import UsageError
from IPython.core.magic_arguments import parse_argstring
from pydantic import BaseModel


@dataclass
class Context:
    """What a subcommand may use: the facade (acting as the notebook's user) and the notebook's variables."""

    mlops: Any
    namespace: dict[str, Any] = field(default_factory=dict)

    def variable(self, name: str, what: str) -> Any:
        """A notebook variable by name; a UsageError naming it when the cell defining it was not run."""
        if name not in self.namespace:
            raise UsageError(f"No variable named {name!r} in this notebook for {what}: run the cell defining it first.")
        return self.namespace[name]


class Subcommand(Protocol):
    """A ``%mlops`` subcommand: parses its own line and calls one facade method."""

    __name__: str

    def __call__(self, ctx: Context, line: str) -> Any:
        """Run the subcommand on the rest of the magic's line."""
        ...


def parse(func: Any, line: str) -> Any:
    """Parse ``line`` with ``func``'s parser; a mistake becomes a UsageError that shows the usage."""
    try:
        return parse_argstring(func, line)
    except UsageError as exc:
        usage = " ".join(func.parser.format_usage().replace("::", "").split())
        raise UsageError(f"{exc}. Usage: {usage}") from None


def as_dict(value: Any) -> dict[str, Any]:
    """A record from the facade as a dict, whether it is a pydantic model or already a dict."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return dict(value)
