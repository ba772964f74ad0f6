"""Output of the CLI: stable JSON shapes for ``--json`` and aligned text tables for people.

The JSON shapes are the CLI's contract with pipelines (documented in README, "From a pipeline"): fields may be
added, never renamed or removed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from ..core.models import Deployment, ModelVersion, RegisteredModel, VariantRole


def plain(value: Any) -> Any:
    """Any facade result as JSON-ready data (pydantic models, reports with ``to_dict``, lists, dicts)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(value, "to_dict") and not isinstance(value, dict):
        return plain(value.to_dict())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def dumps(value: Any) -> str:
    """JSON text of ``value`` (sorted keys, so diffs of pipeline logs stay small)."""
    return json.dumps(plain(value), indent=2, sort_keys=True, default=str)


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 text of a time, None when unknown."""
    return value.isoformat() if value else None


def model_shape(m: RegisteredModel) -> dict[str, Any]:
    """``models --json`` item: name, latest_version, aliases {alias: version}, versions (count), description."""
    return {
        "name": m.name,
        "latest_version": m.latest_version,
        "aliases": dict(m.aliases),
        "versions": len(m.versions),
        "description": m.description,
        "updated_at": _iso(m.updated_at),
    }


def version_shape(v: ModelVersion) -> dict[str, Any]:
    """``versions``/``register --json`` item: name, version, uri, aliases, run_id, status, created_at, metrics."""
    return {
        "name": v.name,
        "version": v.version,
        "uri": v.uri,
        "aliases": list(v.aliases),
        "run_id": v.run_id,
        "status": v.status,
        "description": v.description,
        "created_at": _iso(v.created_at),
        "metrics": dict(v.metrics),
    }


def deployment_shape(d: Deployment) -> dict[str, Any]:
    """``deployments``/``status``/``deploy --json``: name, state, url, model_ref, target, owner, variants, steps."""
    return {
        "name": d.name,
        "state": d.state.value,
        "url": d.url,
        "model_ref": d.model_ref,
        "model_name": d.model_name,
        "model_version": d.model_version,
        "target": d.target,
        "owner": d.owner,
        "message": d.message,
        "variants": [
            {
                "name": v.name,
                "role": v.role.value,
                "model_name": v.model_name,
                "model_version": v.model_version,
                "weight": v.weight,
            }
            for v in d.variants
        ],
        "steps": [{"name": s.name, "status": s.status.value, "message": s.message} for s in d.steps],
    }


def variants_text(d: Deployment) -> str:
    """What serves a deployment, e.g. ``primary v1 80% · canary v2 20%``."""
    if not d.variants:
        return f"{d.model_name} v{d.model_version}"
    parts = []
    for v in d.variants:
        which = f"v{v.model_version}" if v.model_name == d.model_name else f"{v.model_name}/{v.model_version}"
        parts.append(f"{v.role.value} {which} {'mirrored' if v.role == VariantRole.shadow else f'{v.weight}%'}")
    return " · ".join(parts)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An aligned text table; None shows as '-'."""
    cells = [[("-" if c is None else str(c)).replace("\n", " ") for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)
