"""Rich notebook output for magic results: HTML tables and ready-to-copy snippets."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.models import Deployment, DeploymentState, DeploymentStep, ModelVersion, RegisteredModel

_STATE_COLOURS = {
    DeploymentState.ready: "#2e7d32",
    DeploymentState.failed: "#c62828",
    DeploymentState.unknown: "#757575",
    DeploymentState.stopped: "#757575",
}
_AMBER = "#ef8f00"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th style='text-align:left'>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='jp-MLOps-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def state_badge(state: DeploymentState) -> str:
    colour = _STATE_COLOURS.get(state, _AMBER)
    return f"<span style='color:{colour};font-weight:600'>&#9679; {_esc(state.value)}</span>"


def _steps_html(steps: Sequence[DeploymentStep]) -> str:
    marks = {"done": "&#10003;", "running": "&#8635;", "failed": "&#10007;", "pending": "&#9675;"}
    parts = []
    for step in steps:
        note = f" <small>({_esc(step.message)})</small>" if step.message and step.status.value == "failed" else ""
        parts.append(f"{marks.get(step.status.value, '')} {_esc(step.name)}{note}")
    return " &rarr; ".join(parts)


class VersionView:
    """A registered model version, as %register shows it."""

    def __init__(self, version: ModelVersion) -> None:
        self.version = version

    def _repr_html_(self) -> str:
        v = self.version
        aliases = ", ".join(v.aliases) or "none"
        lineage = {k[len("mlops.") :]: val for k, val in v.tags.items() if k.startswith("mlops.")}
        rows = [
            ("Model", f"<code>{_esc(v.name)}</code>"),
            ("Version", _esc(v.version)),
            ("Aliases", _esc(aliases)),
            ("URI", f"<code>{_esc(v.uri)}</code>"),
            ("Signature", "yes" if v.signature else "none (pass X= to infer one)"),
            ("Notebook", _esc(lineage.get("notebook", "unknown"))),
            ("Git commit", _esc(lineage.get("git.commit", "not in a git repository"))),
        ]
        rows += [(f"Metric {_esc(k)}", f"{val:.4g}") for k, val in sorted(v.metrics.items())]
        return _table(("", ""), rows) + f"<p>Deploy it: <code>%deploy {_esc(v.name)}/{_esc(v.version)}</code></p>"

    def __repr__(self) -> str:
        return f"Registered {self.version.name} version {self.version.version} ({self.version.uri})"


class ModelsView:
    def __init__(self, models: Sequence[RegisteredModel]) -> None:
        self.models = models

    def _repr_html_(self) -> str:
        if not self.models:
            return "<p>No registered models yet. Register one: <code>%register model --name churn --X X</code></p>"
        rows = [
            (
                f"<code>{_esc(m.name)}</code>",
                _esc(m.latest_version or "-"),
                _esc(", ".join(f"{a}&rarr;v{v}" for a, v in sorted(m.aliases.items())) or "-"),
                _esc(len(m.versions)),
                _esc(m.updated_at.strftime("%Y-%m-%d %H:%M") if m.updated_at else "-"),
            )
            for m in self.models
        ]
        # Aliases contain an escaped arrow entity on purpose: undo the double escape.
        return _table(("Model", "Latest", "Aliases", "Versions", "Updated"), rows).replace("&amp;rarr;", "&rarr;")

    def __repr__(self) -> str:
        return "\n".join(f"{m.name}  latest={m.latest_version}  aliases={m.aliases}" for m in self.models)


class DeploymentsView:
    def __init__(self, deployments: Sequence[Deployment]) -> None:
        self.deployments = deployments

    def _repr_html_(self) -> str:
        if not self.deployments:
            return "<p>No deployments yet. Deploy a registered model: <code>%deploy churn@champion</code></p>"
        rows = [
            (
                f"<code>{_esc(d.name)}</code>",
                state_badge(d.state),
                f"<code>{_esc(d.model_uri)}</code>",
                _esc(d.target),
                f"<code>{_esc(d.url or '-')}</code>",
            )
            for d in self.deployments
        ]
        return _table(("Deployment", "State", "Model", "Target", "Endpoint"), rows)

    def __repr__(self) -> str:
        return "\n".join(f"{d.name}  {d.state.value}  {d.model_uri}  {d.url or ''}" for d in self.deployments)


class DeploymentView:
    """A deployment with its progress and, once ready, snippets to call it."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def snippets(self) -> dict[str, str]:
        d = self.deployment
        body = json.dumps({"dataframe_split": {"columns": ["x1", "x2"], "data": [[1.0, 2.0]]}})
        return {
            "curl": f"curl -s -X POST {d.url} -H 'Content-Type: application/json' -d '{body}'",
            "python": f"import jupyter_mlops\njupyter_mlops.predict({d.name!r}, X.head())",
        }

    def _repr_html_(self) -> str:
        d = self.deployment
        out = [
            f"<p><b>Deployment <code>{_esc(d.name)}</code></b> {state_badge(d.state)} "
            f"serving <code>{_esc(d.model_uri)}</code> on target <code>{_esc(d.target)}</code></p>",
            f"<p>{_steps_html(d.steps)}</p>" if d.steps else "",
        ]
        if d.state == DeploymentState.failed and d.message:
            out.append(f"<p style='color:#c62828'>{_esc(d.message)}</p>")
        if d.url and d.state == DeploymentState.ready:
            snippets = self.snippets()
            out.append(f"<p>Endpoint: <code>{_esc(d.url)}</code></p>")
            out.append(f"<details open><summary>curl</summary><pre>{_esc(snippets['curl'])}</pre></details>")
            out.append(f"<details open><summary>Python</summary><pre>{_esc(snippets['python'])}</pre></details>")
        return "".join(out)

    def __repr__(self) -> str:
        d = self.deployment
        return f"Deployment {d.name}: {d.state.value} ({d.model_uri}) {d.url or ''}".strip()
