"""The top-level magics: parse the line, call one MLOps method, display the result.

User mistakes (unknown variable, bad name, missing model) raise UsageError: a one-line message, no traceback.
Library warnings and MLflow's messages are captured (``%mlops log`` shows them); ``%mlops`` lives in
``mlops_cmd.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..core import snippets as snippet_text
from ..core.errors import MLOpsError
from ..core.models import Deployment, DeploymentState, RuntimeStatus
from . import settings_args
from .display import ChangeView, DeploymentsView, DeploymentView, ModelsView, Notice, VersionView
from .quiet import captured


@contextmanager
def _usage_errors() -> Iterator[None]:
    """Run facade calls quietly; a domain error becomes a one-line UsageError."""
    try:
        with captured():
            yield
    except MLOpsError as exc:
        raise UsageError(exc.message) from None


def deployment_snippets(mlops: Any, deployment: Deployment) -> dict[str, str]:
    """Snippets that work when pasted: the body is the primary version's serving example (or its signature)."""
    if not deployment.url or deployment.state != DeploymentState.ready:
        return {}
    primary = next((v for v in deployment.variants if v.role.value == "primary"), None)
    name, version = (
        (primary.model_name, primary.model_version) if primary else (deployment.model_name, deployment.model_version)
    )
    with captured():
        body = snippet_text.example_body(mlops, name, version)
    config = getattr(mlops, "config", None)
    tokens = bool(getattr(config, "require_deployment_token", False) or getattr(config, "isolate_users", False))
    return snippet_text.snippets(deployment.url, deployment.name, body, token_env="MLOPS_TOKEN" if tokens else None)


@magics_class
class MLOpsMagics(Magics):
    """%register, %deploy, %undeploy, %models, %deployments, %traffic, %promote, %rollback, %monitor."""

    @property
    def mlops(self) -> Any:
        """The process-wide facade, acting as the notebook's user."""
        from ..core.api import client

        return client()

    def _variable(self, name: str | None, what: str) -> Any:
        """A notebook variable by name (None passes through); a UsageError when the defining cell was not run."""
        if name is None:
            return None
        namespace = self.shell.user_ns if self.shell is not None else {}
        if name not in namespace:
            raise UsageError(f"No variable named {name!r} in this notebook for {what}: run the cell defining it first.")
        return namespace[name]

    @magic_arguments()
    @argument("model", help="Variable holding the model, or a runs:/ or models:/ URI.")
    @argument("--name", "-n", required=True, help="Registered model name.")
    @argument("--X", dest="X", help="Variable holding the training features (infers the signature).")
    @argument("--y", dest="y", help="Variable holding the training target.")
    @argument("--alias", "-a", help="Alias to point at the new version, e.g. champion.")
    @argument("--description", "-d", help="Description of the version.")
    @argument("--reference", "-r", help="Variable holding a labelled held-out set (X_ref, y_ref), or a DataFrame "
              "with --label-column, to estimate performance without live labels.")  # fmt: skip
    @argument("--label-column", help="The label column of a --reference DataFrame.")
    @line_magic
    def register(self, line: str) -> VersionView:
        """Register a model from this notebook in the MLflow registry (``%register model --name churn --X X``)."""
        args = parse_argstring(self.register, line)
        is_uri = args.model.startswith(("runs:/", "models:/"))
        model = args.model if is_uri else self._variable(args.model, "the model")
        with _usage_errors():
            version = self.mlops.register(
                model,
                args.name,
                self._variable(args.X, "--X"),
                self._variable(args.y, "--y"),
                alias=args.alias,
                description=args.description,
                reference=self._reference(args),
            )
        return VersionView(version)

    def _reference(self, args: Any) -> Any:
        """The --reference variable: a pair (X_ref, y_ref), or a DataFrame split on --label-column."""
        reference = self._variable(args.reference, "--reference")
        if reference is None or isinstance(reference, (tuple, list)):
            return reference
        from ..core.monitoring.reference import split_labelled

        return split_labelled(reference, args.label_column)  # called under _usage_errors: a mistake is one line

    @magic_arguments()
    @argument("model", help="NAME, NAME/VERSION or NAME@ALIAS.")
    @argument("--as", dest="name", help="Deployment name (lowercase, digits, '-'); default from the model name.")
    @argument("--target", "-t", help="Where to deploy (default: local).")
    @argument("--replace", action="store_true", help="Swap the model of an existing deployment without downtime.")
    @argument("--canary", type=int, help="Add the model to an existing deployment as a canary with this weight.")
    @argument("--shadow", action="store_true", help="Add the model to an existing deployment as a shadow.")
    @argument("--isolated", action="store_true", help="Serve it from a supervised process of its own (local).")
    @argument("--timeout-ms", type=int, help="Per-request model call timeout in ms (1-600000).")
    @argument("--max-queue", type=int, help="Requests waiting beyond this many answer 503.")
    @argument("--max-rows", type=int, help="Requests with more rows answer 400.")
    @argument("--auto-rollback", choices=["on", "off"], help="Roll a worse canary back automatically.")
    @argument("--set", dest="settings", action="append", metavar="KEY=VALUE",
              help="Any other setting, e.g. --set monitoring.drift_share=0.3 (see %%mlops settings).")  # fmt: skip
    @line_magic
    def deploy(self, line: str) -> DeploymentView | None:
        """Deploy a registered model as a live HTTP endpoint (``%deploy churn@champion --as churn-prod``)."""
        args = parse_argstring(self.deploy, line)
        if args.canary is not None and not 0 < args.canary < 100:
            raise UsageError("--canary is the canary's share of traffic: a whole number between 1 and 99.")
        try:
            with _usage_errors():  # an unknown setting name is the facade's InvalidRequest
                settings = settings_args.from_flags(
                    args.settings, timeout_ms=args.timeout_ms, max_queue=args.max_queue, max_rows=args.max_rows,
                    auto_rollback=args.auto_rollback,
                )  # fmt: skip
        except settings_args.SettingsSyntaxError as exc:
            raise UsageError(str(exc)) from None
        handle = display(DeploymentView(_placeholder(args.model, args.name)), display_id=True)
        on_progress = _progress_updater(handle, args.model) if handle is not None else None
        mlops = self.mlops
        try:
            with _usage_errors():
                deployment = mlops.deploy(
                    args.model, args.name, target=args.target, replace=args.replace, on_progress=on_progress,
                    canary=args.canary, shadow=args.shadow, isolated=args.isolated, settings=settings or None,
                )  # fmt: skip
        except BaseException:
            if handle is not None:  # a failed deploy shows only its one-line error, no stale "pending" card
                handle.update({"text/plain": ""}, raw=True)
            raise
        view = DeploymentView(deployment, deployment_snippets(mlops, deployment))
        if handle is not None:
            handle.update(view)
            return None  # already shown in place
        return view

    @magic_arguments()
    @argument("name", help="Deployment name.")
    @argument("weights", nargs="+", help="VARIANT=WEIGHT pairs by name or role, e.g. primary=80 canary=20.")
    @line_magic
    def traffic(self, line: str) -> ChangeView:
        """Split traffic between a deployment's variants (``%traffic churn-prod primary=80 canary=20``)."""
        args = parse_argstring(self.traffic, line)
        weights: dict[str, int] = {}
        for pair in args.weights:
            key, sep, value = pair.partition("=")
            if not sep or not key or not value.strip().isdigit():
                raise UsageError(f"Expected VARIANT=WEIGHT (e.g. canary=20), got {pair!r}.")
            weights[key] = int(value)
        return self._change("traffic", args.name, lambda mlops: mlops.set_traffic(args.name, weights))

    @magic_arguments()
    @argument("name", help="Deployment name.")
    @line_magic
    def promote(self, line: str) -> ChangeView:
        """Make a deployment's canary its primary (100% of traffic) (``%promote churn-prod``)."""
        args = parse_argstring(self.promote, line)
        return self._change("promote", args.name, lambda mlops: mlops.promote(args.name))

    @magic_arguments()
    @argument("name", help="Deployment name.")
    @line_magic
    def rollback(self, line: str) -> ChangeView:
        """Drop the canary, or go back to the previous primary version (``%rollback churn-prod``)."""
        args = parse_argstring(self.rollback, line)
        return self._change("rollback", args.name, lambda mlops: mlops.rollback(args.name))

    @magic_arguments()
    @argument("name", help="Deployment name.")
    @line_magic
    def undeploy(self, line: str) -> Notice:
        """Stop a deployment and remove its endpoint (``%undeploy churn-prod``)."""
        args = parse_argstring(self.undeploy, line)
        with _usage_errors():
            existed = self.mlops.undeploy(args.name)
        return Notice(f"Undeployed {args.name}." if existed else f"No deployment named {args.name}; nothing to do.")

    def _change(self, action: str, name: str, change: Callable[[Any], Deployment]) -> ChangeView:
        """Apply a rollout step and show the serving state before -> after."""
        mlops = self.mlops
        with _usage_errors():
            before = mlops.deployment(name)
            return ChangeView(action, before, change(mlops))

    @magic_arguments()
    @argument("filter", nargs="?", default=None, help="Show models whose name contains this text.")
    @line_magic
    def models(self, line: str) -> ModelsView:
        """List registered models (``%models [text]``)."""
        args = parse_argstring(self.models, line)
        with _usage_errors():
            page = self.mlops.models(args.filter, max_results=200)
        return ModelsView(page.items)

    @line_magic
    def deployments(self, line: str) -> DeploymentsView:
        """List deployments with their state and endpoint (``%deployments``)."""
        if line.strip():
            raise UsageError("%deployments takes no arguments.")
        with _usage_errors():
            mlops = self.mlops
            items = mlops.deployments()
            return DeploymentsView(items, _current_aliases(mlops, items))

    @magic_arguments()
    @argument("name", help="Deployment name.")
    @argument("--window", "-w", default="1h", help="How far back to look: 15m, 1h, 1d, ... (default 1h).")
    @argument("--refresh", "-r", type=float, default=10.0, help="Seconds between refreshes (default 10).")
    @line_magic
    def monitor(self, line: str) -> Any:
        """A live monitoring dashboard of a deployment (ops, drift, health, alerts) (``%monitor churn --window 1h``)."""
        from ..core import validation
        from ..widgets.monitoring import MonitorDashboard

        args = parse_argstring(self.monitor, line)
        if args.refresh < 1:
            raise UsageError("--refresh must be at least 1 second.")
        mlops = self.mlops
        with _usage_errors():
            name = validation.deployment_name(args.name)
            first = mlops.monitor(name, args.window)  # a bad name or window fails here, as a UsageError
        return MonitorDashboard(lambda: mlops.monitor(name, args.window), refresh_seconds=args.refresh, initial=first)


def _current_aliases(mlops: Any, deployments: list[Deployment]) -> dict[tuple[str, str], str | None]:
    """Where each alias the deployments follow points now: one registry lookup per model, not per row."""
    wanted: dict[str, set[str]] = {}
    for deployment in deployments:
        name, at, alias_name = deployment.model_ref.partition("@")
        if at:
            wanted.setdefault(name, set()).add(alias_name)
    current: dict[tuple[str, str], str | None] = {}
    for name, alias_names in wanted.items():
        try:
            aliases = mlops.model(name).aliases
        except MLOpsError:  # the model was deleted: none of its aliases point anywhere
            aliases = {}
        current.update({(name, alias_name): aliases.get(alias_name) for alias_name in alias_names})
    return current


def _placeholder(model: str, name: str | None) -> Deployment:
    """The card shown while a deploy resolves and loads (replaced in place by the result)."""
    return Deployment(name=name or "...", model_ref=model, model_name=model, model_version="")


def _progress_updater(handle: Any, model: str) -> Callable[[RuntimeStatus], None]:
    """A deploy progress callback that redraws the placeholder card with the latest steps."""

    def update(status: RuntimeStatus) -> None:
        """Redraw the card with the status's state, steps and message."""
        shown = _placeholder(model, status.name).model_copy(
            update={"state": status.state, "steps": status.steps, "message": status.message}
        )
        handle.update(DeploymentView(shown))

    return update
