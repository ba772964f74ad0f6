"""The Ray Serve application of one deployment: a traffic-splitting router in front of one Serve deployment per
variant, each wrapping the pinned MLflow model. Runs inside Ray workers; imported only when Ray is used.

Requests use MLflow's scoring protocol (``protocol.py``, the same code as the local daemon), so a
notebook's ``predict`` gets the same answers on every target. The router is where the local daemon's serving path
is mirrored: it splits traffic by weight, mirrors every request to shadow variants (answers recorded, never
returned), names the answering variant in ``X-MLOps-Variant``, and hands one ``RequestRecord`` per answer to an
``InferenceLog`` writing to our store, so monitoring, drift and alerts work as on the local target.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ray import serve
from starlette.requests import Request
from starlette.responses import Response

from ..core.errors import MLOpsError, Unavailable
from ..core.models import VariantRole
from . import protocol
from .headers import JSON, REQUEST_ID_HEADER, VARIANT_HEADER, VERSION_HEADER
from .records import RequestRecord
from .traffic import TrafficSplit

log = logging.getLogger(__name__)


class ModelVariant:
    """One pinned model version. ``check_health`` runs a canned prediction (the model's input example), so a
    replica whose model stopped answering is replaced by Serve."""

    def __init__(
        self, model_uri: str, tracking_uri: str, registry_uri: str, max_batch_size: int, batch_wait_s: float
    ) -> None:
        import mlflow
        import mlflow.pyfunc

        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(registry_uri)
        pyfunc = mlflow.pyfunc.load_model(model_uri)
        self.model_uri = model_uri
        self.model = protocol.ScoringModel.from_pyfunc(pyfunc)
        self.example = pyfunc.input_example
        self.batching = max_batch_size > 1
        batcher: Any = self._predict_batch  # serve.batch adds setters its type stubs do not show
        batcher.set_max_batch_size(max(1, max_batch_size))
        batcher.set_batch_wait_timeout_s(batch_wait_s)
        self.check_health()

    def check_health(self) -> None:
        if self.example is not None:
            self.model.predict(self.example, None)

    @serve.batch
    async def _predict_batch(self, frames: list[Any]) -> list[Any]:
        """Micro-batching: one predict call for the rows of several concurrent requests (DataFrames only)."""
        import pandas as pd

        sizes = [len(frame) for frame in frames]
        outputs = list(self.model.predict(pd.concat(frames, ignore_index=True), None))
        results, start = [], 0
        for size in sizes:
            results.append(outputs[start : start + size])
            start += size
        return results

    async def score(
        self, body: bytes, content_type: str | None, with_data: bool = False
    ) -> tuple[int, bytes, Any, Any]:
        """(status, response body, parsed inputs, raw outputs); inputs and outputs only when ``with_data`` (the
        router logs them), since they cross the object store."""
        inputs = outputs = None
        try:
            parsed = protocol.parse_request(body, content_type, self.model)
            inputs = parsed.data
            if self.batching and parsed.params is None and type(parsed.data).__name__ == "DataFrame":
                outputs = await self._predict_batch(parsed.data)
            else:
                outputs = protocol.predict(self.model, parsed)
            status, payload = 200, protocol.predictions_to_json(outputs)
        except MLOpsError as exc:
            status, payload, outputs = exc.status, protocol.error_body(exc), None
        return (status, payload, inputs, outputs) if with_data else (status, payload, None, None)


@dataclass(frozen=True)
class RoutedVariant:
    """What the router knows of one variant: its name, pinned version, role, weight, and Serve handle."""

    name: str
    model_version: str
    role: VariantRole
    weight: int
    handle: Any


class Router:
    """The application's ingress: picks a variant by weight for each request (traffic split), mirrors it to the
    shadow variants, and logs every answer to the inference log (``log_options``: ``store_url`` and
    ``MLOpsConfig``'s ``inference_log_*`` settings; None = no logging)."""

    def __init__(
        self,
        deployment: str,
        variants: list[tuple[str, str, str, int, Any]],
        generation: int,
        log_options: dict[str, Any] | None = None,
    ) -> None:
        # (name, model version, role, weight, handle): plain tuples, which Serve scans for bound deployments.
        self.deployment = deployment
        self.generation = generation
        routed = [RoutedVariant(n, version, VariantRole(role), w, h) for n, version, role, w, h in variants]
        # The same split as the local daemon (serving/traffic.py): weights, shadows, all-zero -> the primary.
        self.split = TrafficSplit.of(routed, lambda v: v.role, lambda v: v.weight)
        self.shadows = self.split.shadows
        self.answering = self.split.answering
        self.log = _start_log(log_options)
        self._background: set[asyncio.Task[None]] = set()

    def info(self) -> dict[str, Any]:
        return {"generation": self.generation, "variants": [(v.name, v.weight) for v in self.answering]}

    async def __call__(self, request: Request) -> Response:
        arrived, started = time.time(), time.perf_counter()
        request_id = uuid.uuid4().hex
        body = await request.body()
        content_type = request.headers.get("content-type")
        headers = {REQUEST_ID_HEADER: request_id}
        if not self.answering:
            headers["Retry-After"] = "1"
            return Response(b'{"message": "No variant takes traffic."}', 503, headers=headers, media_type=JSON)
        chosen = self.split.pick()
        headers[VARIANT_HEADER] = chosen.name
        headers[VERSION_HEADER] = chosen.model_version
        status, payload, inputs, outputs = await self._score(chosen, body, content_type)
        self._record(request_id, chosen, arrived, started, status, inputs, outputs, shadow=False)
        if status == 503:  # Serve's backpressure or a replica gone: retryable, as on the local daemon
            headers["Retry-After"] = "1"
        for shadow in self.shadows:
            task = asyncio.get_running_loop().create_task(self._mirror(shadow, body, content_type, request_id))
            self._background.add(task)  # keep a reference until done (the loop holds tasks weakly)
            task.add_done_callback(self._background.discard)
        return Response(payload, status, headers=headers, media_type=JSON)

    async def _score(
        self, variant: RoutedVariant, body: bytes, content_type: str | None
    ) -> tuple[int, bytes, Any, Any]:
        """Call the variant; Serve's refusals (queue full, replica gone) become a 503 the client can retry."""
        try:
            result: tuple[int, bytes, Any, Any] = await variant.handle.score.remote(
                body, content_type, self.log is not None
            )
            return result
        except Exception as exc:
            from ray.serve.exceptions import BackPressureError

            if isinstance(exc, BackPressureError):
                message = f"Variant {variant.name!r} has too many requests queued; retry shortly."
            else:
                log.exception("Variant %s of %s failed", variant.name, self.deployment)
                message = f"Variant {variant.name!r} could not answer ({type(exc).__name__}); retry shortly."
            return 503, protocol.error_body(Unavailable(message)), None, None

    async def _mirror(self, shadow: RoutedVariant, body: bytes, content_type: str | None, request_id: str) -> None:
        """Score a mirrored copy on a shadow variant; its answer is recorded and never returned to the client.

        The record's id is the client request's id plus ``:<variant>``: the inference log keys records by id, so
        reusing the client's id would collide with the answering variant's record."""
        arrived, started = time.time(), time.perf_counter()
        status, _payload, _inputs, _outputs = await self._score(shadow, body, content_type)
        self._record(f"{request_id}:{shadow.name}"[:64], shadow, arrived, started, status, None, None, shadow=True)

    def _record(
        self,
        request_id: str,
        variant: RoutedVariant,
        arrived: float,
        started: float,
        status: int,
        inputs: Any,
        outputs: Any,
        *,
        shadow: bool,
    ) -> None:
        if self.log is None:
            return
        self.log(
            RequestRecord(
                request_id=request_id,
                deployment=self.deployment,
                variant=variant.name,
                model_version=variant.model_version,
                time=arrived,
                latency_ms=(time.perf_counter() - started) * 1000,
                status=status,
                inputs=inputs,
                outputs=outputs,
                shadow=shadow,
            )
        )

    def __del__(self) -> None:
        # Serve calls this when the replica stops (update, delete): flush what is queued.
        if getattr(self, "log", None) is not None:
            self.log.close()


def _start_log(options: dict[str, Any] | None) -> Any:
    """An ``InferenceLog`` on our store configured like the daemon's (``inference_log.from_config``), started."""
    if not options or not options.get("inference_log_enabled", True):
        return None
    from ..core.store.database import make_engine
    from .inference_log import from_config

    settings = SimpleNamespace(**options)
    return from_config(make_engine(settings.store_url), settings).start()
