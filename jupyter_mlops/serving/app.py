"""The daemon's ASGI app (Starlette): data-plane routes, the token-protected admin API, one error mapping.

Routes are grouped by concern (``data_plane_routes``, ``admin_routes``) so further protocols (Open Inference
Protocol V2), ``/metrics`` or batching can be added as more route groups over the same ``ServingContext``.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Lifespan

from ..core.errors import MLOpsError, NotFound, Unavailable
from ..core.models import DeploymentState
from .host import DeploymentRuntime, ModelHost
from .protocol import BadScoringRequest, PayloadTooLarge, error_body

log = logging.getLogger(__name__)

JSON = "application/json"
DEFAULT_MAX_REQUEST_BYTES = 50 * 1024 * 1024
_OK = orjson.dumps({"status": "ok"})


class Unauthenticated(MLOpsError):
    """The admin API was called without the token from daemon.json."""

    status = 401
    code = "UNAUTHENTICATED"


class NotReady(Unavailable):
    """The deployment exists but has nothing serving yet (loading, or failed before its first success)."""

    def __init__(self, runtime: DeploymentRuntime) -> None:
        state = runtime.state
        super().__init__(
            f"Deployment {runtime.name!r} is not ready (state: {state.value})."
            + (f" {runtime.status().message}" if state == DeploymentState.failed else " Retry shortly.")
        )
        self.state = state
        self.retry_after = "5" if state == DeploymentState.failed else "1"

    def to_dict(self) -> dict[str, str]:
        return {**super().to_dict(), "state": self.state.value}


@dataclass
class ServingContext:
    """What every route needs: the model host, the admin token and the daemon's identity and limits."""

    host: ModelHost
    token: str
    version: str
    url: str
    started_at: str
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    request_shutdown: Callable[[], None] = lambda: None
    pid: int = field(default_factory=os.getpid)


def json_response(content: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type=JSON, headers=headers)


def _deployment(ctx: ServingContext, request: Request) -> DeploymentRuntime:
    name = request.path_params["name"]
    runtime = ctx.host.get(name)
    if runtime is None:
        raise NotFound(f"No deployment named {name!r} is served here.")
    return runtime


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 from Content-Length before buffering (or as soon as it exceeds it)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadScoringRequest("Invalid Content-Length header.") from None
        if size > limit:
            raise PayloadTooLarge(f"The request body is {size} bytes; the limit is {limit} bytes.")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


# --- data plane ------------------------------------------------------------------------------------------------


def data_plane_routes(ctx: ServingContext) -> list[BaseRoute]:
    """Health and MLflow-compatible scoring, per deployment. Loopback-bound, no authentication yet."""

    async def ping(_request: Request) -> Response:
        return Response(_OK, media_type=JSON)

    async def deployment_ping(request: Request) -> Response:
        runtime = _deployment(ctx, request)
        if runtime.active is None:
            raise NotReady(runtime)
        return json_response({"status": "ok", "state": runtime.state.value})

    async def invocations(request: Request) -> Response:
        runtime = _deployment(ctx, request)
        serving = runtime.active
        if serving is None:
            raise NotReady(runtime)
        body = await read_body(request, ctx.max_request_bytes)
        result = await ctx.host.score(serving.route(), body, request.headers.get("content-type"))
        return Response(result, media_type=JSON)

    return [
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/deployments/{name}/ping", deployment_ping, methods=["GET"]),
        Route("/deployments/{name}/health", deployment_ping, methods=["GET"]),
        Route("/deployments/{name}/invocations", invocations, methods=["POST"]),
    ]


# --- admin -----------------------------------------------------------------------------------------------------


def admin_routes(ctx: ServingContext) -> list[BaseRoute]:
    """Control of the daemon by its clients (LocalTarget), guarded by the token from daemon.json."""
    expected = f"Bearer {ctx.token}".encode()

    def authenticate(request: Request) -> None:
        given = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(given, expected):
            raise Unauthenticated(
                "The admin API requires 'Authorization: Bearer <token>' with the token from "
                "{data_dir}/serving/daemon.json."
            )

    async def status(request: Request) -> Response:
        authenticate(request)
        return json_response(
            {
                "pid": ctx.pid,
                "version": ctx.version,
                "url": ctx.url,
                "started_at": ctx.started_at,
                "deployments": [s.model_dump(mode="json") for s in ctx.host.statuses()],
            }
        )

    async def reconcile(request: Request) -> Response:
        authenticate(request)
        name = None
        body = await read_body(request, 64 * 1024)
        if body.strip():
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise BadScoringRequest('The reconcile body must be JSON: {} or {"name": "..."}.') from None
            name = payload.get("name") if isinstance(payload, dict) else None
            if name is not None and not isinstance(name, str):
                raise BadScoringRequest("'name' must be a deployment name (a string).")
        try:
            statuses = await ctx.host.reconcile(name)
        except Exception as exc:
            log.exception("Reconcile failed")
            raise Unavailable(f"Could not read the desired state from the store: {type(exc).__name__}.") from None
        return json_response({"deployments": [s.model_dump(mode="json") for s in statuses]}, status=202)

    async def deployment_status(request: Request) -> Response:
        authenticate(request)
        return json_response(_deployment(ctx, request).status().model_dump(mode="json"))

    async def shutdown(request: Request) -> Response:
        authenticate(request)
        log.info("Shutdown requested through the admin API")
        ctx.request_shutdown()
        return json_response({"status": "shutting down"}, status=202)

    return [
        Route("/admin/status", status, methods=["GET"]),
        Route("/admin/reconcile", reconcile, methods=["POST"]),
        Route("/admin/deployments/{name}", deployment_status, methods=["GET"]),
        Route("/admin/shutdown", shutdown, methods=["POST"]),
    ]


# --- error mapping (the one place errors become responses) -----------------------------------------------------


async def _domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MLOpsError)
    headers = {"Retry-After": exc.retry_after} if isinstance(exc, NotReady) else None
    if isinstance(exc, Unauthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    return Response(error_body(exc), status_code=exc.status, media_type=JSON, headers=headers)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "BAD_REQUEST")
    return json_response({"error_code": code, "message": str(exc.detail)}, exc.status_code, exc.headers)


async def _unexpected_error(_request: Request, exc: Exception) -> Response:
    log.error("Unexpected error: %s", type(exc).__name__, exc_info=exc)
    return json_response(
        {"error_code": "INTERNAL_ERROR", "message": f"Internal error ({type(exc).__name__}); see daemon.log."}, 500
    )


def create_app(
    ctx: ServingContext,
    *,
    lifespan: Lifespan[Any] | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The daemon's ASGI app. ``extra_routes`` lets later protocols plug in without touching these."""
    routes = [*data_plane_routes(ctx), *admin_routes(ctx), *extra_routes]
    app = Starlette(
        routes=routes,
        exception_handlers={
            MLOpsError: _domain_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        lifespan=lifespan,
    )
    app.state.serving = ctx
    return app
