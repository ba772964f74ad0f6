"""The daemon's ASGI app (Starlette): data-plane routes, the token-protected admin API, one error mapping.

Routes are grouped by concern (``data_plane_routes``, ``admin_routes``) so further protocols (Open Inference
Protocol V2), ``/metrics`` or batching can be added as more route groups over the same ``ServingContext``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Lifespan

from ..core import validation
from ..core.deployments.config import DeploymentConfig
from ..core.errors import Forbidden, InvalidRequest, MLOpsError, NotFound, Unavailable, UnsupportedMediaType
from ..core.models import DeploymentState, RuntimeStatus
from . import auth as deployment_auth
from . import v2
from .balance import ConnectionBalance
from .headers import JSON, REQUEST_ID_HEADER, VARIANT_HEADER, VERSION_HEADER
from .host import ModelHost
from .hosts import HostAllowList
from .isolated import IsolatedRuntime
from .protocol import BadScoringRequest, PayloadTooLarge, Scored, error_body
from .records import RequestRecord
from .runtime import DeploymentRuntime, ServedVariant, ServingSet, VariantWindow
from .workers import (
    SIBLING_HEADER,
    WORKER_HEADER,
    ForwardedRuntime,
    Siblings,
    least_advanced,
    merge_metrics,
    missing_in_sibling,
)

log = logging.getLogger(__name__)

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


class Overloaded(Unavailable):
    """The deployment's queue is full: answer now with 503 + Retry-After instead of letting latency grow."""

    code = "OVERLOADED"
    retry_after = "1"


class TimedOut(MLOpsError):
    """The prediction did not finish within the deployment's timeout."""

    status = 504
    code = "TIMEOUT"


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
    # Observers of completed scoring requests (inference log, monitoring); see records.py.
    on_request: list[Callable[[RequestRecord], None]] = field(default_factory=list)
    # The other serving workers of this daemon (None: this process serves alone); see workers.py.
    siblings: Siblings | None = None
    worker_index: int = 0
    # The pid clients know the daemon by (worker 0's), whichever worker answers; None: this process's.
    daemon_pid: Callable[[], int] | None = None
    # Keep-alive connections evened out over the workers (None: this process serves alone); see balance.py.
    balance: ConnectionBalance | None = None

    def fan_out(self, request: Request) -> Siblings | None:
        """The siblings to ask as well, unless this request came from one (each worker answers for itself)."""
        return None if request.headers.get(SIBLING_HEADER) else self.siblings

    def completed(self, runtime: DeploymentRuntime | None, record: RequestRecord) -> None:
        """The one place a finished scoring request is known: metrics, rollout windows, then observers."""
        metrics = self.host.metrics
        status = str(record.status)
        if record.shadow:
            metrics.shadow_requests.labels(record.deployment, record.variant, status).inc()
        else:
            metrics.requests.labels(record.deployment, record.variant, status).inc()
            metrics.latency.labels(record.deployment, record.variant).observe(record.latency_ms / 1000)
        if runtime is not None and record.variant != "-":
            window = runtime.windows.get(record.variant)
            if window is None:
                serving = runtime.active
                size = serving.settings.auto_rollback.window if serving else 200
                window = runtime.windows[record.variant] = VariantWindow(size)
            # Any non-2xx counts: the primary sees the same mix of bad requests, so only a worse model stands out.
            window.add(record.status >= 400, record.latency_ms)
        for observer in self.on_request:
            try:
                observer(record)
            except Exception:
                log.exception("An on_request observer failed; the request was answered anyway")


# Refusals that say nothing about a deployment's health: counted under mlops_refused_requests, never recorded as
# its traffic, errors, inference log or alerts (anyone could otherwise page the owner).
REFUSALS: tuple[type[MLOpsError], ...] = (deployment_auth.TokenRequired, Forbidden, UnsupportedMediaType)


def refused(ctx: ServingContext, exc: MLOpsError, reason: str, render: Callable[[MLOpsError], bytes] = error_body,
            headers: Mapping[str, str] | None = None) -> Response:  # fmt: skip
    """Count a refused request under its status and reason, and render it."""
    ctx.host.metrics.refused.labels(str(exc.status), reason).inc()
    return _error_response(exc, headers, render)


async def check_access(ctx: ServingContext, request: Request, name: str,
                       render: Callable[[MLOpsError], bytes] = error_body) -> Response | None:  # fmt: skip
    """None when the request may use deployment ``name`` (its token when it has one); else the refusal."""
    try:
        await deployment_auth.require_token(ctx, request, name)
    except REFUSALS as exc:
        return refused(ctx, exc, "token", render)
    return None


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

# (variant, body, request id) -> scored: a protocol's parse + predict + serialise, off the event loop.
Scorer = Callable[[ServedVariant, bytes, str], Awaitable[Scored]]


async def serve_request(
    ctx: ServingContext,
    request: Request,
    name: str,
    scorer: Scorer,
    *,
    version: str | None = None,
    render_error: Callable[[MLOpsError], bytes] = error_body,
) -> Response:
    """The serving path shared by every protocol: route to a variant (or the one serving ``version``), score
    within the deployment's timeout and queue bound, mirror to shadows, and report the completed request
    (``ctx.completed``) whatever its outcome."""
    arrived, started = time.time(), time.perf_counter()
    request_id = uuid.uuid4().hex
    runtime = ctx.host.get(name)
    served: ServedVariant | None = None
    scored: Scored | None = None
    headers = {REQUEST_ID_HEADER: request_id, WORKER_HEADER: str(ctx.worker_index)}
    admitted = False
    denied = await check_access(ctx, request, name, render_error)  # governance: per-deployment bearer token
    if denied is not None:
        return denied
    try:
        if runtime is None:
            raise NotFound(f"No deployment named {name!r} is served here.")
        if isinstance(runtime, IsolatedRuntime | ForwardedRuntime):  # its own process answers (and records it)
            return await runtime.forward(request, await read_body(request, ctx.max_request_bytes))
        runtime.last_used = started
        serving = runtime.active
        if serving is None and runtime.evicted:
            serving = await reload_evicted(ctx, runtime)
        elif serving is None:  # still loading (a restart, a first deploy): answer once loaded, within the timeout
            timeout_ms = DeploymentConfig.load(runtime.desired.config).timeout_ms
            serving = await ctx.host.wait_loaded(runtime, timeout_ms / 1000)
        if serving is None:
            raise NotReady(runtime)
        config = serving.settings
        served = serving.route() if version is None else serving.with_version(version)
        if served is None:
            raise NotFound(f"Deployment {name!r} does not serve version {version!r}.")
        headers[VARIANT_HEADER] = served.variant.name
        headers[VERSION_HEADER] = served.variant.model_version
        if runtime.in_flight >= config.max_queue:
            raise Overloaded(
                f"Deployment {name!r} has {runtime.in_flight} requests in progress (limit {config.max_queue}); "
                "retry after the time in Retry-After."
            )
        runtime.in_flight += 1
        admitted = True
        ctx.host.metrics.queue_depth.labels(name).set(runtime.in_flight)
        body = await read_body(request, ctx.max_request_bytes)
        try:
            scored = await asyncio.wait_for(scorer(served, body, request_id), config.timeout_ms / 1000)
        except asyncio.TimeoutError:
            raise TimedOut(
                f"The prediction took longer than the deployment's timeout of {config.timeout_ms} ms."
            ) from None
        ctx.host.metrics.observe_stages(name, scored.timings)
        for shadow in serving.shadows if version is None else ():
            task = asyncio.get_running_loop().create_task(
                _mirror(ctx, runtime, serving, shadow, scorer, body, request_id)
            )
            _background.add(task)  # keep a reference until done (the loop holds tasks weakly)
            task.add_done_callback(_background.discard)
        if ctx.balance is not None and ctx.balance.let_go():
            headers["Connection"] = "close"  # this worker holds more than its share: the client reconnects
        response = Response(scored.body, media_type=JSON, headers=headers)
    except MLOpsError as exc:
        response = _error_response(exc, headers, render_error)
    finally:
        if admitted and runtime is not None:
            runtime.in_flight -= 1
            ctx.host.metrics.queue_depth.labels(name).set(runtime.in_flight)
    ctx.completed(
        runtime,
        RequestRecord(
            request_id=request_id,
            deployment=name if runtime is not None else "-",
            variant=served.variant.name if served else "-",
            model_version=served.variant.model_version if served else "",
            time=arrived,
            latency_ms=(time.perf_counter() - started) * 1000,
            status=response.status_code,
            inputs=scored.inputs if scored else None,
            outputs=scored.outputs if scored else None,
        ),
    )
    return response


async def reload_evicted(ctx: ServingContext, runtime: DeploymentRuntime) -> ServingSet | None:
    """Load an evicted deployment again and wait for it within its timeout (TimedOut past it; LoadQueueFull, a
    503 with Retry-After, when too many reloads are queued). Eviction alone never fails a request."""
    timeout_ms = runtime.idle_settings.timeout_ms if runtime.idle_settings is not None else 30_000
    try:
        return await asyncio.wait_for(ctx.host.ensure_loaded(runtime), timeout_ms / 1000)
    except asyncio.TimeoutError:
        raise TimedOut(
            f"Deployment {runtime.name!r} was idle and unloaded; loading it again took longer than its timeout of "
            f"{timeout_ms} ms. Retry: it stays loaded once ready."
        ) from None


def data_plane_routes(ctx: ServingContext) -> list[BaseRoute]:
    """Health and MLflow-compatible scoring, per deployment. Loopback-bound, no authentication yet."""

    async def ping(_request: Request) -> Response:
        return Response(_OK, media_type=JSON)

    async def deployment_ping(request: Request) -> Response:
        denied = await check_access(ctx, request, request.path_params["name"])
        if denied is not None:
            return denied
        runtime = _deployment(ctx, request)
        if isinstance(runtime, IsolatedRuntime | ForwardedRuntime):
            return await runtime.forward(request, None)
        if runtime.active is None and runtime.evicted:
            return json_response({"status": "ok", "state": "idle"})  # answers; loads on the next scoring request
        if runtime.active is None:
            raise NotReady(runtime)
        return json_response({"status": "ok", "state": runtime.state.value})

    async def invocations(request: Request) -> Response:
        content_type = request.headers.get("content-type")

        async def scorer(served: ServedVariant, body: bytes, _request_id: str) -> Scored:
            return await ctx.host.score(served, body, content_type, _max_rows(ctx, request.path_params["name"]))

        return await serve_request(ctx, request, request.path_params["name"], scorer)

    return [
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/deployments/{name}/ping", deployment_ping, methods=["GET"]),
        Route("/deployments/{name}/health", deployment_ping, methods=["GET"]),
        Route("/deployments/{name}/invocations", invocations, methods=["POST"]),
    ]


_background: set[asyncio.Task[None]] = set()


def _max_rows(ctx: ServingContext, name: str) -> int:
    """The deployment's row limit per request (``max_rows``), checked by every protocol before decoding."""
    runtime = ctx.host.get(name)
    serving = runtime.active if runtime is not None else None
    return serving.settings.max_rows if serving is not None else 100_000


async def _mirror(
    ctx: ServingContext,
    runtime: DeploymentRuntime,
    serving: ServingSet,
    shadow: ServedVariant,
    scorer: Scorer,
    body: bytes,
    request_id: str,
) -> None:
    """Score a mirrored copy on a shadow variant; its answer is recorded and never returned to the client."""
    arrived, started = time.time(), time.perf_counter()
    scored: Scored | None = None
    status = 200
    config = serving.settings
    try:
        scored = await asyncio.wait_for(scorer(shadow, body, request_id), config.timeout_ms / 1000)
    except asyncio.TimeoutError:
        status = TimedOut.status
    except MLOpsError as exc:
        status = exc.status
    except Exception:
        log.exception("Shadow variant %s of %s failed", shadow.variant.name, runtime.name)
        status = 500
    ctx.completed(
        runtime,
        RequestRecord(
            # The client's request is logged under its own id: the copy gets one of its own (ids are unique).
            request_id=f"{request_id[:40]}:{shadow.variant.name}"[:64],
            deployment=runtime.name,
            variant=shadow.variant.name,
            model_version=shadow.variant.model_version,
            time=arrived,
            latency_ms=(time.perf_counter() - started) * 1000,
            status=status,
            inputs=scored.inputs if scored else None,
            outputs=scored.outputs if scored else None,
            shadow=True,
        ),
    )


def v2_routes(ctx: ServingContext) -> list[BaseRoute]:
    """Open Inference Protocol V2 (REST): health, model metadata and readiness, infer. A model is a deployment."""

    def render(exc: MLOpsError) -> bytes:
        return v2.error_body(exc)

    def v2_error(exc: MLOpsError) -> Response:
        return _error_response(exc, None, render)

    async def live(_request: Request) -> Response:
        return json_response({"live": True})

    async def ready(_request: Request) -> Response:
        """Ready when every deployment of this daemon has a serving set (loaded and warmed)."""
        names = [status.name for status in ctx.host.statuses()]
        pending = [name for name in names if (runtime := ctx.host.get(name)) is not None and not runtime.serving()]
        return json_response({"ready": not pending}, status=200 if not pending else 503)

    async def in_process(request: Request, name: str) -> DeploymentRuntime | Response:
        """The model's runtime when this process serves it and the caller may see it; otherwise the answer (401/403
        without its token, 404, or the isolated worker's)."""
        denied = await check_access(ctx, request, name, render)
        if denied is not None:
            return denied
        runtime = ctx.host.get(name)
        if runtime is None:
            return v2_error(NotFound(f"No model (deployment) named {name!r} is served here."))
        if isinstance(runtime, IsolatedRuntime | ForwardedRuntime):
            return await runtime.forward(request, None)
        return runtime

    async def model_metadata(request: Request) -> Response:
        name = request.path_params["name"]
        runtime = await in_process(request, name)
        if isinstance(runtime, Response):
            return runtime
        serving = runtime.active
        if serving is None and runtime.evicted:
            try:
                serving = await reload_evicted(ctx, runtime)
            except MLOpsError as exc:
                return v2_error(exc)
        if serving is None:
            return v2_error(NotReady(runtime))
        served = serving.route()
        versions = sorted({v.variant.model_version for v in serving.variants}, key=lambda v: (len(v), v))
        return json_response(v2.metadata(name, versions, served.model))

    async def model_ready(request: Request) -> Response:
        name = request.path_params["name"]
        runtime = await in_process(request, name)
        if isinstance(runtime, Response):
            return runtime
        version = request.path_params.get("version")
        if version is not None:
            try:
                version = validation.version(version)
            except InvalidRequest as exc:
                return v2_error(exc)
            serving = runtime.active
            if serving is None:
                return json_response({"name": name, "ready": False}, status=503)
            if serving.with_version(version) is None:
                return v2_error(NotFound(f"Model (deployment) {name!r} does not serve version {version}."))
        is_ready = runtime.active is not None
        return json_response({"name": name, "ready": is_ready}, status=200 if is_ready else 503)

    async def infer(request: Request) -> Response:
        name = request.path_params["name"]
        version = request.path_params.get("version")
        json_length = request.headers.get(v2.BINARY_HEADER)
        try:  # only JSON and binary tensors: a web page cannot send those without a CORS preflight
            v2.check_content_type(request.headers.get("content-type"), json_length, request.headers.get("origin"))
        except UnsupportedMediaType as exc:
            return refused(ctx, exc, "media_type", render)
        if version is not None:
            try:
                version = validation.version(version)
            except InvalidRequest as exc:
                return v2_error(exc)
        max_rows = _max_rows(ctx, name)

        def infer_v2(served: ServedVariant, body: bytes, request_id: str) -> Scored:
            return v2.infer(
                served.model, body, json_length,
                deployment=name, version=served.variant.model_version, request_id=request_id, max_rows=max_rows,
            )  # fmt: skip

        async def scorer(served: ServedVariant, body: bytes, request_id: str) -> Scored:
            return await ctx.host.run(infer_v2, served, body, request_id)

        return await serve_request(ctx, request, name, scorer, version=version, render_error=render)

    return [
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route("/v2/models/{name}", model_metadata, methods=["GET"]),
        Route("/v2/models/{name}/ready", model_ready, methods=["GET"]),
        Route("/v2/models/{name}/infer", infer, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/ready", model_ready, methods=["GET"]),
    ]


def observability_routes(ctx: ServingContext) -> list[BaseRoute]:
    """``GET /metrics`` in Prometheus' text format, for the admin token or the configured metrics token."""

    async def metrics(request: Request) -> Response:
        try:
            deployment_auth.require_metrics_token(ctx, request)
        except REFUSALS as exc:
            return refused(ctx, exc, "metrics_token")
        own = ctx.host.metrics.render()
        siblings = ctx.fan_out(request)
        if siblings is not None:  # one daemon: every worker's samples summed
            answers = await siblings.call("GET", "/metrics")
            texts = [own.decode(), *(r.text for _seat, r in answers if r.status_code == 200)]
            own = await asyncio.to_thread(merge_metrics, texts)
        return Response(own, media_type=ctx.host.metrics.content_type)

    return [Route("/metrics", metrics, methods=["GET"])]


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

    async def statuses(request: Request) -> list[RuntimeStatus]:
        """This worker's statuses, combined with every sibling's (each deployment's least advanced)."""
        own = ctx.host.statuses()
        siblings = ctx.fan_out(request)
        if siblings is None:
            return own
        theirs = []
        for _seat, answer in await siblings.call("GET", "/admin/status"):
            if answer.status_code == 200:
                items = answer.json().get("deployments", [])
                theirs.append({item["name"]: RuntimeStatus.model_validate(item) for item in items})
        absent = siblings.absent(len(theirs))
        combined = []
        for status in own:
            found = [other.get(status.name) for other in theirs]
            pool = [status, *(s if s is not None else missing_in_sibling(status) for s in found)]
            if absent:
                pool.append(missing_in_sibling(status))  # a worker still starting (or restarting) serves nothing yet
            combined.append(least_advanced(sorted(pool, key=lambda s: 0 if s is status else 1)))
        return combined

    async def status(request: Request) -> Response:
        authenticate(request)
        return json_response(
            {
                "pid": ctx.daemon_pid() if ctx.daemon_pid is not None else ctx.pid,
                "version": ctx.version,
                "url": ctx.url,
                "started_at": ctx.started_at,
                "deployments": [s.model_dump(mode="json") for s in await statuses(request)],
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
        deployment_auth.cache_of(ctx).invalidate(name)  # a changed token takes effect now, on any store
        try:
            applied = await ctx.host.reconcile(name)
        except Exception as exc:
            log.exception("Reconcile failed")
            raise Unavailable(f"Could not read the desired state from the store: {type(exc).__name__}.") from None
        siblings = ctx.fan_out(request)
        if siblings is not None:  # every worker converges before the answer: a status read next sees it
            await siblings.call("POST", "/admin/reconcile", content=body)
        return json_response({"deployments": [s.model_dump(mode="json") for s in applied]}, status=202)

    async def deployment_status(request: Request) -> Response:
        authenticate(request)
        own = _deployment(ctx, request).status()
        siblings = ctx.fan_out(request)
        if siblings is not None:
            pool = [own]
            for _seat, answer in await siblings.call("GET", request.url.path):
                if answer.status_code == 200:
                    pool.append(RuntimeStatus.model_validate(answer.json()))
                elif answer.status_code == 404:
                    pool.append(missing_in_sibling(own))
            if siblings.absent(len(pool) - 1):
                pool.append(missing_in_sibling(own))  # a worker still starting (or restarting) serves nothing yet
            own = least_advanced(pool)
        return json_response(own.model_dump(mode="json"))

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


def _error_response(
    exc: MLOpsError, headers: Mapping[str, str] | None = None, render: Callable[[MLOpsError], bytes] = error_body
) -> Response:
    extra = dict(headers or {})
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, str):
        extra["Retry-After"] = retry_after
    if isinstance(exc, Unauthenticated):
        extra["WWW-Authenticate"] = "Bearer"
    return Response(render(exc), status_code=exc.status, media_type=JSON, headers=extra or None)


async def _domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MLOpsError)
    return _error_response(exc)


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
    allowed_hosts: frozenset[str] = frozenset(),
) -> Starlette:
    """The daemon's ASGI app. ``extra_routes`` lets later protocols plug in without touching these;
    ``allowed_hosts`` are the Host header names answered besides loopback."""
    routes = [*data_plane_routes(ctx), *v2_routes(ctx), *observability_routes(ctx), *admin_routes(ctx), *extra_routes]
    app = Starlette(
        routes=routes,
        exception_handlers={
            MLOpsError: _domain_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        lifespan=lifespan,
        middleware=[
            Middleware(HostAllowList, allowed=allowed_hosts, refuse=lambda exc, why: refused(ctx, exc, why, error_body))
        ],
    )
    app.state.serving = ctx
    return app
