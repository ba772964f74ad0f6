"""Rich notebook output for magic results: HTML tables, notices and ready-to-paste snippets.

Every piece of stored text (model descriptions, card sections, lineage labels, ledger entries) is escaped before
it reaches a rich MIME type: JupyterLab renders the output of a cell the user just ran as trusted HTML, so
unescaped text from the registry would run as script in JupyterLab's origin.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..core.models import Deployment, DeploymentState, DeploymentStep, ModelVersion, RegisteredModel, VariantRole

_STATE_COLOURS = {
    DeploymentState.ready: "#2e7d32",
    DeploymentState.failed: "#c62828",
    DeploymentState.unknown: "#757575",
    DeploymentState.stopped: "#757575",
}
_AMBER = "#ef8f00"
# Characters that make Markdown produce HTML, links or images; escaped in stored text shown as Markdown.
_MARKDOWN_ACTIVE = re.compile(r"[\\`*_\[\]()!|#~]")


def esc(value: Any) -> str:
    """HTML-escape any value (None as empty text) for an HTML output."""
    return html.escape("" if value is None else str(value))


def md_escape(value: Any) -> str:
    """Escape stored text for a Markdown output: no raw HTML, no links or images, no formatting from data."""
    text = html.escape("" if value is None else str(value), quote=False)
    return _MARKDOWN_ACTIVE.sub(lambda m: "\\" + m.group(0), text)


def neutralize_markdown(markdown: str) -> str:
    """Make a Markdown document built elsewhere inert: raw HTML shown as text, links and images not followed.

    Used for documents (the model card) whose structure is ours but whose sections hold stored text: headings,
    lists and tables keep working, while ``<img onerror=...>``, ``[x](javascript:...)`` and ``![](url)`` stay text.
    """
    text = html.escape(markdown, quote=False)
    return text.replace("[", "\\[").replace("]", "\\]")


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An HTML table; cells are HTML already escaped by the caller."""
    head = "".join(f"<th style='text-align:left'>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='jp-MLOps-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def state_badge(state: DeploymentState) -> str:
    """A coloured dot and the state's name, as HTML."""
    colour = _STATE_COLOURS.get(state, _AMBER)
    return f"<span style='color:{colour};font-weight:600'>&#9679; {esc(state.value)}</span>"


def _steps_html(steps: Sequence[DeploymentStep]) -> str:
    """Deploy steps as marks and names joined by arrows."""
    marks = {"done": "&#10003;", "running": "&#8635;", "failed": "&#10007;", "pending": "&#9675;"}
    parts = []
    for step in steps:
        note = f" <small>({esc(step.message)})</small>" if step.message and step.status.value == "failed" else ""
        parts.append(f"{marks.get(step.status.value, '')} {esc(step.name)}{note}")
    return " &rarr; ".join(parts)


def variants_text(deployment: Deployment) -> str:
    """What serves a deployment, e.g. ``primary v1 80% · canary v2 20%`` (shadows get mirrored copies)."""
    if not deployment.variants:
        return (
            deployment.model_ref
            if not deployment.model_version
            else f"{deployment.model_name} v{deployment.model_version}"
        )
    parts = []
    for v in deployment.variants:
        which = f"v{v.model_version}" if v.model_name == deployment.model_name else f"{v.model_name}/{v.model_version}"
        share = "mirrored" if v.role == VariantRole.shadow else f"{v.weight}%"
        parts.append(f"{v.role.value} {which} {share}")
    return " · ".join(parts)


class Notice:
    """A one-line message (done, nothing to do, alert fired): plain text, shown as a quiet note, never stderr."""

    def __init__(self, text: str, *, level: str = "info") -> None:
        """Keep what to show."""
        self.text, self.level = text, level

    def _repr_html_(self) -> str:
        """HTML for notebooks; every stored value escaped."""
        colour = {"info": "var(--jp-info-color1, #0277bd)", "warning": "var(--jp-warn-color1, #ef8f00)"}.get(
            self.level, "inherit"
        )
        style = f"border-left:3px solid {colour};padding-left:6px"
        return f"<div class='jp-MLOps-notice' style='{style}'>{esc(self.text)}</div>"

    def __repr__(self) -> str:
        """Plain text for terminals and text/plain."""
        return self.text


class Markdown:
    """Markdown output whose stored values were escaped by the caller (``md_escape``) or neutralized."""

    def __init__(self, text: str) -> None:
        """Keep what to show."""
        self.text = text

    def _repr_markdown_(self) -> str:
        """The Markdown text (stored values already escaped)."""
        return self.text

    def __repr__(self) -> str:
        """Plain text for terminals and text/plain."""
        return self.text


class Table:
    """A small HTML table with a plain-text twin, for ledger entries, approvals, alerts and rules."""

    def __init__(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        """Keep what to show."""
        self.title, self.columns, self.rows = title, columns, rows

    def _repr_html_(self) -> str:
        """HTML for notebooks; every stored value escaped."""
        head = "".join(f"<th>{esc(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in self.rows)
        return f"<div class='jp-MLOps-table'><b>{esc(self.title)}</b><table><tr>{head}</tr>{body}</table></div>"

    def __repr__(self) -> str:
        """Plain text for terminals and text/plain."""
        lines = [self.title, " | ".join(self.columns)]
        lines += [" | ".join("" if v is None else str(v) for v in row) for row in self.rows]
        return "\n".join(lines)


class Preformatted:
    """Text shown verbatim (exports, JSON): escaped in a ``<pre>``, never cut."""

    def __init__(self, text: str) -> None:
        """Keep what to show."""
        self.text = text

    def _repr_html_(self) -> str:
        """HTML for notebooks; every stored value escaped."""
        return f"<pre class='jp-MLOps-pre'>{esc(self.text)}</pre>"

    def __repr__(self) -> str:
        """Plain text for terminals and text/plain."""
        return self.text


class VersionView:
    """A registered model version, as %register shows it."""

    def __init__(self, version: ModelVersion) -> None:
        """Keep what to show."""
        self.version = version

    def _repr_html_(self) -> str:
        """HTML for notebooks; every stored value escaped."""
        v = self.version
        aliases = ", ".join(v.aliases) or "none"
        lineage = {k[len("mlops.") :]: val for k, val in v.tags.items() if k.startswith("mlops.")}
        rows = [
            ("Model", f"<code>{esc(v.name)}</code>"),
            ("Version", esc(v.version)),
            ("Aliases", esc(aliases)),
            ("URI", f"<code>{esc(v.uri)}</code>"),
            ("Description", esc(v.description or "-")),
            ("Signature", "yes" if v.signature else "none (pass X= to infer one)"),
            ("Notebook", esc(lineage.get("notebook", "unknown"))),
            ("Git commit", esc(lineage.get("git.commit", "not in a git repository"))),
        ]
        rows += [(f"Metric {esc(k)}", f"{val:.4g}") for k, val in sorted(v.metrics.items())]
        return _table(("", ""), rows) + f"<p>Deploy it: <code>%deploy {esc(v.name)}/{esc(v.version)}</code></p>"

    def __repr__(self) -> str:
        """Plain text for terminals and text/plain."""
        return f"Registered {self.version.name} version {self.version.version} ({self.version.uri})"


class ModelsView:
    """Registered models as a table (name, latest version, aliases, versions, last update)."""

    def __init__(self, models: Sequence[RegisteredModel]) -> None:
        """Keep what to show."""
        self.models = models

    def _repr_html_(self) -> str:
        """HTML for notebooks; every stored value escaped."""
        if not self.models:
            return "<p>No registered models yet. Register one: <code>%register model --name churn --X X</code></p>"
        rows = [
            (
                f"<code>{esc(m.name)}</code>",
                esc(m.latest_version or "-"),
                " ".join(f"{esc(a)}&rarr;v{esc(v)}" for a, v in sorted(m.aliases.items())) or "-",
                esc(len(m.versions)),
                esc(m.updated_at.strftime("%Y-%m-%d %H:%M") if m.updated_at else "-"),
            )
            for m in self.models
        ]
        return _table(("Model", "Latest", "Aliases", "Versions", "Updated"), rows)

    def __repr__(self) -> str:
        """Plain text for terminals and text/plain."""
        return "\n".join(f"{m.name}  latest={m.latest_version}  aliases={m.aliases}" for m in self.models)


class DeploymentsView:
    """Deployments as a table with what serves each one (variants, versions and weights)."""

    def __init__(
        self, deployments: Sequence[Deployment], aliases: Mapping[tuple[str, str], str | None] | None = None
    ) -> None:
        """Keep what to show; ``aliases`` maps ``(model, alias)`` to the version it points at now (None: unset)."""
        self.deployments = deployments
        self.aliases = aliases or {}

    def deployed_as(self, deployment: Deployment) -> str:
        """The reference the deployment follows, never an alias that now points at another version than it serves.

        When the alias moved (or was removed), the served version is shown with where the alias points now.
        """
        ref = deployment.model_ref
        name, at, alias_name = ref.partition("@")
        if not at or (name, alias_name) not in self.aliases:
            return ref
        primary = next((v for v in deployment.variants if v.role.value == "primary"), None)
        serving = primary.model_version if primary else deployment.model_version
        now = self.aliases[(name, alias_name)]
        if now == serving:
            return ref
        where = f"now v{now}, %mlops sync {deployment.name}" if now else "removed"
        return f"{name}/{serving} (@{alias_name} {where})"

    def _repr_html_(self) -> str:
        """HTML for notebooks; every stored value escaped."""
        if not self.deployments:
            return "<p>No deployments yet. Deploy a registered model: <code>%deploy churn@champion</code></p>"
        rows = [
            (
                f"<code>{esc(d.name)}</code>",
                state_badge(d.state),
                f"<code>{esc(self.deployed_as(d))}</code>",
                esc(variants_text(d)),
                esc(d.target),
                f"<code>{esc(d.url or '-')}</code>",
            )
            for d in self.deployments
        ]
        return _table(("Deployment", "State", "Deployed as", "Serving", "Target", "Endpoint"), rows)

    def __repr__(self) -> str:
        """Plain text for terminals and text/plain."""
        return "\n".join(f"{d.name}  {d.state.value}  {variants_text(d)}  {d.url or ''}" for d in self.deployments)


class DeploymentView:
    """A deployment with its progress, what serves it and, once ready, snippets that work when pasted."""

    def __init__(self, deployment: Deployment, snippets: dict[str, str] | None = None) -> None:
        """Keep what to show."""
        self.deployment = deployment
        self.snippets = snippets or {}

    def _repr_html_(self) -> str:
        """HTML for notebooks; every stored value escaped."""
        d = self.deployment
        out = [
            f"<p><b>Deployment <code>{esc(d.name)}</code></b> {state_badge(d.state)} "
            f"serving {esc(variants_text(d))} on target <code>{esc(d.target)}</code></p>",
            f"<p>{_steps_html(d.steps)}</p>" if d.steps else "",
        ]
        if d.state == DeploymentState.failed and d.message:
            out.append(f"<p style='color:#c62828'>{esc(d.message)}</p>")
        if d.url and d.state == DeploymentState.ready:
            out.append(f"<p>Endpoint: <code>{esc(d.url)}</code></p>")
            for label, code in self.snippets.items():
                out.append(f"<details open><summary>{esc(label)}</summary><pre>{esc(code)}</pre></details>")
        return "".join(out)

    def __repr__(self) -> str:
        """Plain text for terminals and text/plain."""
        d = self.deployment
        return f"Deployment {d.name}: {d.state.value} ({variants_text(d)}) {d.url or ''}".strip()


class ChangeView:
    """What a rollout step changed on a deployment: the serving state before -> after."""

    def __init__(self, action: str, before: Deployment | None, after: Deployment) -> None:
        """Keep what to show."""
        self.action, self.before, self.after = action, before, after

    @property
    def deployment(self) -> Deployment:
        """The deployment after the change."""
        return self.after

    def _texts(self) -> tuple[str, str]:
        """The serving state before and after, as text."""
        return (variants_text(self.before) if self.before else "nothing"), variants_text(self.after)

    def _repr_html_(self) -> str:
        """HTML for notebooks; every stored value escaped."""
        before, after = self._texts()
        return (
            f"<p><b>{esc(self.action)}</b> <code>{esc(self.after.name)}</code> {state_badge(self.after.state)}</p>"
            f"<p>{esc(before)} &rarr; <b>{esc(after)}</b></p>"
        )

    def __repr__(self) -> str:
        """Plain text for terminals and text/plain."""
        before, after = self._texts()
        return f"{self.action} {self.after.name}: {before} -> {after}"


def compact_json(value: Any) -> str:
    """Whole JSON text of a ledger value (never cut mid-string); empty for None."""
    return "" if value is None else json.dumps(value, default=str, sort_keys=True)
