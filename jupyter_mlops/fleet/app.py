"""The fleet view, served by the MLOps hub service under ``<service prefix>fleet/``: the hub's OAuth, read-only.

Every handler is thin: it checks the caller (``@web.authenticated`` through the hub, then ``@authorized``: the
``custom:mlops:fleet`` scope or hub admin), calls one ``FleetView`` method and renders it. Core errors are mapped
to HTTP once, in ``FleetHandler.write_error``/``_call``. The rollups are refreshed by a periodic job running in a
worker thread, so a refresh never blocks a request.
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from jupyterhub.services.auth import HubOAuth, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.ioloop import PeriodicCallback

from ..core.errors import MLOpsError
from .queries import FleetView
from .report import render_report
from .rollups import FleetRollups

log = logging.getLogger(__name__)

SCOPE = "custom:mlops:fleet"
STATIC = Path(__file__).parent / "static"
F = TypeVar("F", bound=Callable[..., Any])


def authorized(method: F) -> F:
    """Let through only holders of the fleet scope (or hub admins); everyone else gets 403 with the reason."""

    @functools.wraps(method)
    def wrapper(self: FleetHandler, *args: Any, **kwargs: Any) -> Any:
        user = self.current_user or {}
        if SCOPE not in set(user.get("scopes") or ()) and not user.get("admin"):
            message = (
                f"{user.get('name', 'this user')} lacks the {SCOPE} scope: the fleet view shows every user's "
                "models, so a hub admin must grant it (e.g. add the user to the fleet viewers' group)."
            )
            raise web.HTTPError(403, "%s", message, reason="Forbidden")  # "%s": names may contain "%"
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class FleetHandler(HubOAuthenticated, web.RequestHandler):
    """Base of every fleet handler: the hub's OAuth, the view, and one error mapping."""

    hub_auth_class = HubOAuth  # one HubOAuth.instance() per process, configured by the hub's environment

    def initialize(self, view: FleetView, executor: ThreadPoolExecutor) -> None:
        self.view = view
        self.executor = executor

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a view method off the event loop; core errors become HTTP errors with their message."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))
        except MLOpsError as exc:
            raise web.HTTPError(exc.status, "%s", exc.message, reason=_reason(exc.status)) from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = self._reason
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], web.HTTPError) and exc_info[1].log_message:
            message = exc_info[1].log_message % exc_info[1].args if exc_info[1].args else exc_info[1].log_message
        elif status_code >= 500:
            message = "The fleet view failed; the service log has the details."
        if "/api/" in self.request.path:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"message": message}))
        else:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(
                f"<!doctype html><title>{status_code}</title><h1>{status_code} {html.escape(self._reason)}</h1>"
                f"<p>{html.escape(message)}</p>"
            )

    def write_json(self, data: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))


def _reason(status: int) -> str:
    return {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}.get(status, "Error")


class PageHandler(FleetHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        token = html.escape(self.xsrf_token.decode(), quote=True)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish((STATIC / "index.html").read_text().replace("@XSRF@", token))


class SummaryHandler(FleetHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self._call(self.view.summary))


class DeploymentsHandler(FleetHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        args = {k: self.get_query_argument(k, None) for k in ("q", "owner", "health", "sort", "order", "problem")}
        page = self.get_query_argument("page", None)
        size = self.get_query_argument("page_size", None)
        self.write_json(await self._call(self.view.deployments, page=page, page_size=size, **args))


class DeploymentHandler(FleetHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self._call(self.view.deployment, name))


class ExportHandler(FleetHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        text = await self._call(self.view.export_csv)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", 'attachment; filename="mlops-fleet.csv"')
        self.finish(text)


class ReportHandler(FleetHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        since, until = self.get_query_argument("since", None), self.get_query_argument("until", None)
        data = await self._call(self.view.report_data, since, until)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(render_report(data))


class RiskHandler(FleetHandler):
    """``api/risk``: the "Model risk" panel's counts."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self._call(self.view.risk))


class RiskInventoryHandler(FleetHandler):
    """``api/risk/inventory.(csv|pdf)``: the one-click model inventory download (``as_of=YYYY-MM-DD`` optional)."""

    TYPES = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}

    @web.authenticated
    @authorized
    async def get(self, format: str) -> None:
        as_of = self.get_query_argument("as_of", None)
        body = await self._call(self.view.risk_inventory, format, as_of)
        self.set_header("Content-Type", self.TYPES.get(format, "application/octet-stream"))
        self.set_header("Content-Disposition", f'attachment; filename="model-inventory.{format}"')
        self.finish(body)


class StaticHandler(FleetHandler):
    """The dashboard's script, style and chart library (only for fleet viewers, like everything else)."""

    TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html; charset=utf-8"}

    @web.authenticated
    @authorized
    def get(self, path: str) -> None:
        file = (STATIC / path).resolve()
        if STATIC.resolve() not in file.parents or not file.is_file():
            raise web.HTTPError(404, "No such file.", reason="Not Found")
        self.set_header("Content-Type", self.TYPES.get(file.suffix, "application/octet-stream"))
        self.finish(file.read_bytes())


def fleet_routes(
    view: FleetView, *, executor: ThreadPoolExecutor, prefix: str
) -> list[tuple[str, type[web.RequestHandler], dict[str, Any]]]:
    """The dashboard and its API under ``prefix`` (the MLOps service's ``<service prefix>fleet/``)."""
    kw = {"view": view, "executor": executor}
    return [
        (prefix, PageHandler, kw),
        (url_path_join(prefix, "api/summary"), SummaryHandler, kw),
        (url_path_join(prefix, "api/deployments"), DeploymentsHandler, kw),
        (url_path_join(prefix, "api/deployments/([^/]+)"), DeploymentHandler, kw),
        (url_path_join(prefix, "api/export.csv"), ExportHandler, kw),
        (url_path_join(prefix, "api/report"), ReportHandler, kw),
        (url_path_join(prefix, "api/risk"), RiskHandler, kw),
        (url_path_join(prefix, "api/risk/inventory\\.([^/]+)"), RiskInventoryHandler, kw),
        (url_path_join(prefix, "static/(.+)"), StaticHandler, kw),
    ]


def start_refresh(
    rollups: FleetRollups, executor: ThreadPoolExecutor, interval: float
) -> tuple[PeriodicCallback, Callable[[], Awaitable[None]]]:
    """The periodic job: one rollup update at a time, in a worker thread; returns the timer and one run."""
    running = asyncio.Lock()

    async def run() -> None:
        if running.locked():  # a slow refresh is not stacked on itself
            return
        async with running:
            try:
                stats = await asyncio.get_running_loop().run_in_executor(executor, rollups.update)
                log.info(
                    "fleet rollups: %d bucket(s), %d deployment(s) in %.2f s",
                    stats["buckets"],
                    stats["deployments"],
                    stats["seconds"],
                )
            except Exception:  # the next run retries; the dashboard keeps the last good rollups
                log.exception("fleet rollups failed")

    return PeriodicCallback(run, interval * 1000), run
