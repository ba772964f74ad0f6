"""``%mlops card`` and ``%mlops lineage``: a version's documentation and where it came from."""

from __future__ import annotations

from typing import Any

from IPython.core.magic_arguments import argument, magic_arguments

from ..display import Markdown, md_escape, neutralize_markdown
from . import Context, parse


@magic_arguments(name="mlops card")
@argument("model", help="NAME or NAME/VERSION (default: the latest version).")
def card(ctx: Context, line: str) -> Any:
    """The model card of a version, as Markdown whose stored text stays inert (no HTML, links or images)."""
    args = parse(card, line)
    name, _, version = args.model.partition("/")
    return Markdown(neutralize_markdown(ctx.mlops.card(name, version or None).markdown))


@magic_arguments(name="mlops lineage")
@argument("subject", help="DEPLOYMENT, NAME or NAME/VERSION.")
def lineage(ctx: Context, line: str) -> Any:
    """The chain deployment -> version -> run -> notebook/commit, each link labelled once."""
    args = parse(lineage, line)
    chain = ctx.mlops.lineage(args.subject)
    return Markdown(" → ".join(f"**{md_escape(n.kind)}** {md_escape(_label(n.kind, n.label))}" for n in chain.nodes))


def _label(kind: str, label: str) -> str:
    """A node's label without a repeat of its kind ("deployment deployment x" reads "deployment x")."""
    return label[len(kind) + 1 :] if label.lower().startswith(kind + " ") else label
