"""REST handlers: parse, call one MLOps method in a worker thread, render. No logic lives here."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError
from tornado import web

from ..core import requests
from ..core.errors import MLOpsError
from ..core.jsonlimits import depth_message, nested_deeper_than
from . import identity

if TYPE_CHECKING:
    from ..core.service import MLOps

from ..core.about import __version__  # not the package root: it imports this module (extension entry point)

T = TypeVar("T")
B = TypeVar("B", bound=BaseModel)
API = "/mlops/api"
MAX_JSON_BODY = 1024 * 1024


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class Refusal(web.HTTPError):
    """An HTTP error whose message is shown to the user as is (tornado would %-format log_message)."""

    def __init__(
        self, status: int, message: str, reason: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(status, message.replace("%", "%%"), reason=reason)
        self.message = message
        self.extra = extra or {}  # machine-readable detail a client can act on (e.g. the approval to request)


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return f"Invalid request body at '{where}': {first.get('msg', 'invalid value')}."


class MLOpsHandler(APIHandler):
    """Base of every /mlops/api handler: authorization resource, the facade, the one error mapping."""

    auth_resource = "mlops"

    @property
    def mlops(self) -> MLOps:
        """This request's facade: the server's MLOps acting as the authenticated user (built once per request)."""
        view: MLOps | None = getattr(self, "_mlops_view", None)
        if view is None:
            service: MLOps = self.settings["mlops_service"]()
            view = service.acting_as(identity.principal_of(self.current_user, service.principal))
            self._mlops_view = view
        return view

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking core call off the event loop; domain errors become JSON 4xx/5xx with their message."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))
        except MLOpsError as exc:
            extra = {k: v for k, v in exc.to_dict().items() if k not in ("error_code", "message")}
            raise Refusal(exc.status, exc.message, reason=exc.code, extra=extra) from None
        except ValidationError as exc:
            raise Refusal(400, _validation_message(exc)) from None

    def json_body(self) -> dict[str, Any]:
        """The request's JSON object: 415 unless JSON, 413 over 1 MiB, 400 if too deep, invalid or not an object."""
        content_type = self.request.headers.get("Content-Type", "application/json").split(";")[0].strip()
        if content_type != "application/json":
            raise Refusal(415, f"Send JSON with Content-Type: application/json (got {content_type!r}).")
        if len(self.request.body) > MAX_JSON_BODY:
            raise Refusal(413, "The request body is larger than 1 MiB.")
        if nested_deeper_than(self.request.body):  # the daemon's limit, checked before parsing
            raise Refusal(400, depth_message())
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise Refusal(400, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise Refusal(400, "The request body must be a JSON object.")
        return body

    def parse_body(self, model: type[B], message: str | None = None, body: dict[str, Any] | None = None) -> B:
        """The JSON body parsed into a request model.

        400 with ``message`` (else pydantic's, located) if it does not fit.
        """
        try:
            return model.model_validate(self.json_body() if body is None else body)
        except ValidationError as exc:
            raise Refusal(400, message or _validation_message(exc)) from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Answer a refusal as ``{"message", "reason", ...}`` JSON; anything else as jupyter_server does."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, Refusal):
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"message": exc.message, "reason": exc.reason, **exc.extra}))
            return
        super().write_error(status_code, **kwargs)

    def send(self, value: Any, status: int = 200) -> None:
        """Finish with ``value`` as JSON (pydantic records dumped) and ``status``."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(_jsonable(value)))

    def int_argument(self, name: str, default: int) -> int:
        """An integer query argument, or 400 naming it."""
        raw = self.get_query_argument(name, str(default))
        try:
            return int(raw)
        except ValueError:
            raise Refusal(400, f"Query argument {name!r} must be an integer (got {raw!r}).") from None


class VersionHandler(MLOpsHandler):
    """``GET /version``: the extension's version (the sidebar checks it against its own)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The extension's version."""
        self.send({"version": __version__})


class UIConfigHandler(MLOpsHandler):
    """Read-only settings the sidebar needs: the MLflow UI to link to and the default deploy target."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The MLflow UI link and the default deploy target."""
        config = self.mlops.config
        self.send({"mlflow_ui_url": config.mlflow_ui_url or None, "default_target": config.default_target})


class ModelsHandler(MLOpsHandler):
    """``GET /models?filter=&max_results=&page_token=``: registered models, one page at a time."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """One page of registered models."""
        page = await self.call(
            self.mlops.models,
            self.get_query_argument("filter", None),
            max_results=self.int_argument("max_results", 50),
            page_token=self.get_query_argument("page_token", None),
        )
        self.send(page)


class ModelHandler(MLOpsHandler):
    """``GET /models/{name}``: one registered model with its aliases and latest versions."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        """The registered model."""
        self.send(await self.call(self.mlops.model, name))


class VersionsHandler(MLOpsHandler):
    """``GET /models/{name}/versions``: every version, newest first; ``POST``: register a URI as a new version."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        """The model's versions as a page."""
        versions = await self.call(self.mlops.versions, name)
        self.send({"items": versions, "next_page_token": None, "total": len(versions)})

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        """Register ``uri`` as a new version (201), with an optional labelled ``reference`` and its ``label_column``."""
        body = self.parse_body(
            requests.RegisterRequest,
            'Send {"uri": "runs:/RUN_ID/model"}, optionally with "reference": {"columns": [...], "data": [[...]]} '
            'and "label_column": "y".',
        )
        mlops = self.mlops

        def register() -> Any:
            reference = None
            if body.reference is not None:
                from ..core.monitoring.reference import from_split

                reference = from_split(body.reference.columns, body.reference.data, body.label_column)
            return mlops.register(body.uri, name, alias=body.alias, description=body.description, reference=reference)

        version = await self.call(register)
        self.set_header("Location", f"{self.request.path.rstrip('/')}/{version.version}")
        self.send(version, status=201)


class ModelVersionHandler(MLOpsHandler):
    """``GET /models/{name}/versions/{version}``: one version with signature, metrics and lineage."""

    @web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        """The model version."""
        self.send(await self.call(self.mlops.version, name, version))


class AliasHandler(MLOpsHandler):
    """``PUT {"version": V}`` points an alias at a version; ``DELETE`` removes it (both audited)."""

    @web.authenticated
    @authorized
    async def put(self, name: str, alias: str) -> None:
        """Point the alias at the body's version as the authenticated user."""
        body = self.parse_body(requests.AliasRequest, 'Give the version the alias should point at: {"version": "3"}.')
        self.send(await self.call(self.mlops.set_alias, name, alias, body.version))

    @web.authenticated
    @authorized
    async def delete(self, name: str, alias: str) -> None:
        """Remove the alias (204)."""
        await self.call(self.mlops.delete_alias, name, alias)
        self.set_status(204)
        self.finish()


class DeploymentsHandler(MLOpsHandler):
    """``GET /deployments`` lists what the user may see; ``POST`` deploys a model (201, or 202 while it loads)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The deployments the authenticated user may see."""
        items = await self.call(self.mlops.deployments)
        self.send({"items": items, "next_page_token": None, "total": len(items)})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Deploy the body's ``DeploymentSpec`` as the authenticated user."""
        from ..core.models import DeploymentSpec

        body = self.json_body()
        body.setdefault("wait", False)
        try:
            spec = DeploymentSpec.model_validate(body)
            settings = spec.deployment_settings()
        except ValidationError as exc:
            raise Refusal(400, _validation_message(exc)) from None
        except MLOpsError as exc:
            raise Refusal(exc.status, exc.message, reason=exc.code) from None
        deployment = await self.call(
            self.mlops.deploy, spec.model, spec.name, target=spec.target, wait=spec.wait,
            canary=spec.canary, shadow=spec.shadow, batching=spec.batching, isolated=spec.isolated,
            settings=settings,
        )  # fmt: skip
        self.set_header("Location", f"{self.base_url.rstrip('/')}{API}/deployments/{deployment.name}")
        self.send(deployment, status=201 if spec.wait else 202)


class DeploymentHandler(MLOpsHandler):
    """``GET /deployments/{name}`` with its runtime state; ``DELETE`` undeploys it (204, idempotent)."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        """The deployment with its state and steps."""
        self.send(await self.call(self.mlops.deployment, name))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        """Undeploy it (204 whether or not it existed)."""
        await self.call(self.mlops.undeploy, name)
        self.set_status(204)
        self.finish()


class SettingsHandler(MLOpsHandler):
    """``GET /deployments/{name}/settings``; ``PATCH`` changes some of them (200 + all of them, audited)."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        """The deployment's settings: serving limits, batching, automatic rollback and monitoring."""
        self.send(await self.call(self.mlops.configure, name))

    @web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        """Change the body's settings as the authenticated user; objects are merged into the current ones."""
        from ..core.deployments.config import settings_changes

        body = self.json_body()
        if not body:
            raise Refusal(400, 'The body must be an object of settings to change, e.g. {"timeout_ms": 5000}.')
        try:
            changes = settings_changes(body)  # unknown names refused before they reach keyword arguments
        except MLOpsError as exc:
            raise Refusal(exc.status, exc.message, reason=exc.code) from None
        self.send(await self.call(self.mlops.configure, name, **changes))


class PredictHandler(MLOpsHandler):
    """An authenticated proxy to a deployment's endpoint, for users who reach Jupyter but not its loopback."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        """Forward the body to the deployment and answer with its status, headers and body."""
        content_type = self.request.headers.get("Content-Type", "application/json")
        status, headers, body = await self.call(self.mlops.invoke, name, self.request.body, content_type)
        self.set_status(status)
        for key, value in headers.items():
            if key.lower() in ("content-type", "retry-after") or key.lower().startswith("x-mlops-"):
                self.set_header(key, value)
        self.finish(body)


class TrafficHandler(MLOpsHandler):
    """``PUT {"weights": {"primary": 80, "canary": 20}}``: the deployment's traffic split (202 + Deployment)."""

    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        """Set the weights as the authenticated user."""
        body = self.parse_body(requests.TrafficRequest, 'The body must be {"weights": {"primary": 80, "canary": 20}}.')
        self.send(await self.call(self.mlops.set_traffic, name, body.weights, wait=False), status=202)


class PromoteHandler(MLOpsHandler):
    """``POST .../promote``: the canary becomes the primary (202 + Deployment)."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        """Promote the canary as the authenticated user."""
        self.send(await self.call(self.mlops.promote, name, wait=False), status=202)


class RollbackHandler(MLOpsHandler):
    """``POST .../rollback``: drop the canary, or return to the previous primary (202 + Deployment)."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        """Roll back as the authenticated user."""
        self.send(await self.call(self.mlops.rollback, name, wait=False), status=202)


class SyncHandler(MLOpsHandler):
    """``POST .../sync``: re-resolve an alias-driven deployment and redeploy if the alias moved (202)."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        """Re-resolve the alias and redeploy if it moved."""
        self.send(await self.call(self.mlops.sync, name, wait=False), status=202)


class EventsHandler(MLOpsHandler):
    """``GET .../events``: the deployment's rollout history, oldest first."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        """The rollout history, oldest first."""
        items = await self.call(self.mlops.events, name, self.int_argument("limit", 100))
        self.send({"items": items})


# --- monitoring ---------------------------------------------------------------------------------------------------


class MonitoringHandler(MLOpsHandler):
    """``GET .../monitoring?window=1h``: ops time series, drift per feature, performance, health, alerts."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        """The monitoring report over ``window``."""
        report = await self.call(self.mlops.monitor, name, self.get_query_argument("window", "1h"))
        self.send(report.to_dict())


class FeedbackHandler(MLOpsHandler):
    """``POST .../feedback {"items": [{"request_id": "...", "label": ...}]}``: ground truth -> ``{"accepted": n}``."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        """Store the labels; answers how many were accepted."""
        body = self.parse_body(requests.FeedbackRequest, 'Send {"items": [{"request_id": "...", "label": ...}, ...]}.')
        ids = [i.request_id for i in body.items]
        labels = [i.label for i in body.items]
        result = await self.call(self.mlops.feedback, name, ids, labels)
        self.send({"accepted": result["accepted"]})


class AlertRulesHandler(MLOpsHandler):
    """``GET``/``PUT .../alert-rules {"rules": [...]}``: a deployment's alert rules (its own plus defaults)."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        """The deployment's rules (its own and the defaults)."""
        self.send({"items": await self.call(self.mlops.alert_rules, name)})

    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        """Replace the deployment's own rules."""
        message = 'Send {"rules": [{"name", "metric", "op", "threshold", "window"}, ...]}.'
        body = self.parse_body(requests.AlertRulesRequest, message)
        self.send({"items": await self.call(self.mlops.alert_rules, name, body.rules)})


class AlertsHandler(MLOpsHandler):
    """``GET /alerts[?deployment=NAME]``: alerts newest first, with ids (the sidebar notifies each once)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Alerts of one deployment or all, newest first."""
        name = self.get_query_argument("deployment", None)
        self.send({"items": await self.call(self.mlops.alerts, name)})


class AlertAckHandler(MLOpsHandler):
    """``POST /alerts/{id}/ack``: acknowledge a fired alert (audited)."""

    @web.authenticated
    @authorized
    async def post(self, alert_id: str) -> None:
        """Acknowledge the alert as the authenticated user."""
        if not alert_id.isdigit():
            raise Refusal(400, f"Invalid alert id {alert_id!r}: alert ids are positive integers.")
        self.send(await self.call(self.mlops.acknowledge_alert, int(alert_id)))


class HealthHandler(MLOpsHandler):
    """``GET /health[?window=1h]``: the fleet's health score and each deployment's."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The fleet's health and each deployment's."""
        self.send(await self.call(self.mlops.health, None, self.get_query_argument("window", "1h")))
