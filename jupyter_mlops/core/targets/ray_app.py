"""The Ray Serve application of one deployment: a traffic-splitting router in front of one Serve deployment per
variant, each wrapping the pinned MLflow model. Runs inside Ray workers; imported only when Ray is used.

Requests use MLflow's scoring protocol (our ``serving.protocol``, the same code as the local daemon), so a
notebook's ``predict`` gets the same answers on every target.
"""

from __future__ import annotations

import random
from typing import Any

from ray import serve
from starlette.requests import Request
from starlette.responses import Response

from ...serving import protocol
from ..errors import MLOpsError


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

    async def score(self, body: bytes, content_type: str | None) -> tuple[int, bytes]:
        try:
            parsed = protocol.parse_request(body, content_type, self.model)
            if self.batching and parsed.params is None and type(parsed.data).__name__ == "DataFrame":
                outputs = await self._predict_batch(parsed.data)
            else:
                outputs = protocol.predict(self.model, parsed)
            return 200, protocol.predictions_to_json(outputs)
        except MLOpsError as exc:
            return exc.status, protocol.error_body(exc)


class Router:
    """The application's ingress: picks a variant by weight for each request (traffic split)."""

    def __init__(self, variants: list[tuple[str, int, Any]], generation: int) -> None:
        self.variants = [(name, weight, handle) for name, weight, handle in variants if weight > 0]
        self.generation = generation

    def info(self) -> dict[str, Any]:
        return {"generation": self.generation, "variants": [(n, w) for n, w, _ in self.variants]}

    async def __call__(self, request: Request) -> Response:
        body = await request.body()
        if not self.variants:
            return Response(b'{"message": "No variant takes traffic."}', status_code=503)
        _name, _weight, handle = random.choices(self.variants, weights=[w for _, w, _ in self.variants])[0]
        status, payload = await handle.score.remote(body, request.headers.get("content-type"))
        return Response(payload, status_code=status, media_type="application/json")
