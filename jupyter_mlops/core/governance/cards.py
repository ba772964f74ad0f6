"""Model cards and the lineage chain, generated from MLflow's records plus our deployments, approvals and ledger.

A card is stored as artifacts of the version's run (``model_card/card.json`` and ``model_card/card.md``) so it
travels with the model in MLflow; only ``intended_use`` and ``limitations`` are written by people, the rest is
regenerated from the records each time.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..errors import InvalidRequest
from ..lineage import TAG_PREFIX
from ..models import Deployment, ModelVersion
from ..resource import Resource
from .policy import Approval

CARD_DIR = "model_card"
EDITABLE = ("intended_use", "limitations")


class ModelCard(BaseModel):
    """A version's model card: what MLflow and our records know, plus the sections people write."""

    name: str
    version: str
    description: str | None = None
    aliases: list[str] = []
    created_at: datetime | None = None
    signature: dict[str, Any] | None = None
    params: dict[str, str] = {}
    metrics: dict[str, float] = {}
    datasets: dict[str, str] = {}
    lineage: dict[str, str] = {}
    deployments: list[str] = []
    monitoring: dict[str, Any] | None = None
    approvals: list[dict[str, Any]] = []
    intended_use: str = ""
    limitations: str = ""
    markdown: str = ""


class LineageNode(BaseModel):
    """One link of the chain: ``kind`` is deployment, version, run, notebook, commit, environment or data."""

    kind: str
    id: str
    label: str
    detail: dict[str, str] = {}


class LineageChain(BaseModel):
    """Where a deployment or version came from: deployment, version, run, notebook, commit, data."""

    subject: str
    nodes: list[LineageNode]


def _lineage_tags(version: ModelVersion) -> dict[str, str]:
    return {k[len(TAG_PREFIX) :]: v for k, v in version.tags.items() if k.startswith(TAG_PREFIX)}


def chain(version: ModelVersion, deployment: Deployment | None = None) -> LineageChain:
    """Deployment -> version -> run -> notebook -> commit, with environment and training data alongside."""
    tags = _lineage_tags(version)
    nodes: list[LineageNode] = []
    if deployment is not None:
        nodes.append(
            LineageNode(
                kind="deployment",
                id=deployment.name,
                label=f"deployment {deployment.name}",
                detail={
                    k: str(v)
                    for k, v in {
                        "owner": deployment.owner,
                        "target": deployment.target,
                        "url": deployment.url,
                        "state": deployment.state.value,
                        "inference_log": str(Resource.deployment(deployment.name)),
                    }.items()
                    if v
                },
            )
        )
    nodes.append(
        LineageNode(
            kind="version",
            id=version.uri,
            label=f"{version.name} v{version.version}",
            detail={"aliases": ",".join(version.aliases), "registered_by": tags.get("registered_by", "")},
        )
    )
    if version.run_id:
        nodes.append(
            LineageNode(
                kind="run",
                id=version.run_id,
                label=f"run {version.run_id[:8]}",
                detail={"source": version.source or ""},
            )
        )
    if "notebook" in tags:
        nodes.append(LineageNode(kind="notebook", id=tags["notebook"], label=tags["notebook"]))
    if "git.commit" in tags:
        dirty = tags.get("git.dirty", "unknown")
        nodes.append(
            LineageNode(
                kind="commit",
                id=tags["git.commit"],
                label=f"commit {tags['git.commit'][:10]}" + (" (uncommitted changes)" if dirty == "true" else ""),
                detail={k: tags[f"git.{k}"] for k in ("dirty", "branch", "remote") if f"git.{k}" in tags},
            )
        )
    if "python" in tags:
        nodes.append(
            LineageNode(
                kind="environment",
                id=f"python {tags['python']}",
                label=f"Python {tags['python']}",
                detail={"packages": tags.get("packages", "{}")},
            )
        )
    if "data.fingerprint" in tags:
        nodes.append(
            LineageNode(
                kind="data",
                id=tags["data.fingerprint"],
                label=f"training data {tags['data.fingerprint'][:19]}",
                detail={k: tags[f"data.{k}"] for k in ("rows", "columns") if f"data.{k}" in tags},
            )
        )
    subject = (
        Resource.deployment(deployment.name) if deployment else Resource.model(version.name, version=version.version)
    )
    return LineageChain(subject=str(subject), nodes=nodes)


def build_card(
    version: ModelVersion,
    *,
    sections: dict[str, str],
    deployments: list[str],
    approvals: list[dict[str, Any]],
    monitoring: dict[str, Any] | None = None,
) -> ModelCard:
    """The card of a version from its MLflow record, our deployments and approvals, and monitoring."""
    tags = _lineage_tags(version)
    card = ModelCard(
        name=version.name,
        version=version.version,
        description=version.description,
        aliases=version.aliases,
        created_at=version.created_at,
        signature=version.signature,
        params=version.params,
        metrics=version.metrics,
        datasets={k: v for k, v in tags.items() if k.startswith("data.")},
        lineage={k: v for k, v in tags.items() if not k.startswith("data.")},
        deployments=deployments,
        monitoring=monitoring,
        approvals=approvals,
        intended_use=sections.get("intended_use", ""),
        limitations=sections.get("limitations", ""),
    )
    card.markdown = render_markdown(card)
    return card


def _table(rows: dict[str, Any]) -> str:
    if not rows:
        return "_none recorded_\n"
    return "| name | value |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in sorted(rows.items()))


def render_markdown(card: ModelCard) -> str:
    """The card as Markdown (stored beside card.json in the version's run)."""
    inputs = (card.signature or {}).get("inputs") or []
    schema = "".join(f"- `{c.get('name', '?')}`: {c.get('type', '?')}\n" for c in inputs if isinstance(c, dict))
    approvals = "".join(
        f"- #{a.get('id')} {a.get('action')} {a.get('target')}: {a.get('status')} by {a.get('decided_by') or '-'}\n"
        for a in card.approvals
    )
    return (
        f"# Model card: {card.name} v{card.version}\n\n"
        f"{card.description or '_No description._'}\n\n"
        f"Aliases: {', '.join(card.aliases) or 'none'}. "
        f"Deployed as: {', '.join(card.deployments) or 'not deployed'}.\n\n"
        f"## Intended use\n\n{card.intended_use or '_Not written yet._'}\n\n"
        f"## Limitations\n\n{card.limitations or '_Not written yet._'}\n\n"
        f"## Inputs\n\n{schema or '_No signature._'}\n\n"
        f"## Metrics\n\n{_table(card.metrics)}\n## Parameters\n\n{_table(card.params)}\n"
        f"## Training data\n\n{_table(card.datasets)}\n## Lineage\n\n{_table(card.lineage)}\n"
        f"## Monitoring\n\n{json.dumps(card.monitoring) if card.monitoring else '_No monitoring summary._'}\n\n"
        f"## Approvals\n\n{approvals or '_None._'}\n"
    )


def load_sections(client: Any, run_id: str | None) -> dict[str, str]:
    """The human-written sections of a stored card, or empty ones when none was stored yet."""
    if not run_id:
        return {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(run_id, f"{CARD_DIR}/card.json", tmp)
            stored = json.loads(Path(path).read_text())
    except Exception:  # no card stored yet
        return {}
    return {k: str(stored.get(k) or "") for k in EDITABLE}


def store_card(client: Any, card: ModelCard, run_id: str | None) -> None:
    """Store the card as artifacts (card.json, card.md) of the version's run."""
    if not run_id:
        raise InvalidRequest(
            f"{card.name} v{card.version} has no MLflow run to store its card in; register it with register()."
        )
    client.log_text(run_id, card.model_dump_json(indent=1), f"{CARD_DIR}/card.json")
    client.log_text(run_id, card.markdown, f"{CARD_DIR}/card.md")


def approval_concerns(approval: Approval, mv: ModelVersion) -> bool:
    """True when an approval request is about this model version (an alias move or a deploy of it)."""
    if str(approval.payload.get("version")) != mv.version:
        return False
    try:
        resource = Resource.parse(approval.target)
    except InvalidRequest:
        return False
    if resource.kind == "model":
        return resource.name == mv.name and resource.alias is not None
    if resource.kind == "deployment":
        return str(approval.payload.get("model", "")).split("/")[0].split("@")[0] == mv.name
    return False


def assemble(
    mv: ModelVersion,
    sections: dict[str, str],
    deployments: list[Deployment],
    approvals: list[Approval],
    monitoring: dict[str, Any] | None,
) -> ModelCard:
    """The card of ``mv`` with the deployments serving it and the approvals about it, from all of ours."""
    deployed = [
        d.name
        for d in deployments
        if d.model_name == mv.name and any(v.model_version == mv.version for v in d.variants)
    ]
    decided = [
        a.model_dump(mode="json", include={"id", "action", "target", "status", "requested_by", "decided_by"})
        for a in approvals
        if approval_concerns(a, mv)
    ]
    return build_card(mv, sections=sections, deployments=deployed, approvals=decided, monitoring=monitoring)
