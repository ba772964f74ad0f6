"""The floor of benchmarks/peers.py: a minimal ASGI app that ignores the request body and calls the model's
``predict`` on a frame built once at start-up, so what it measures is HTTP plus the model itself, nothing else.

``POST /rows/1`` and ``POST /rows/100`` predict on the first 1 or 100 rows of the frame. Configured by environment
(uvicorn workers import this module): ``FLOOR_MODEL_DIR`` (a local MLflow scikit-learn model folder) and
``FLOOR_ROWS`` (a JSON ``dataframe_split`` object with the rows). Run with
``uvicorn --app-dir benchmarks floor_app:app --host 127.0.0.1 --port P --workers N``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import mlflow.sklearn
import orjson
import pandas as pd

_split = orjson.loads(open(os.environ["FLOOR_ROWS"], "rb").read())  # noqa: SIM115 - read once at import
_frame = pd.DataFrame(_split["data"], columns=_split["columns"], dtype="float64")
_model = mlflow.sklearn.load_model(os.environ["FLOOR_MODEL_DIR"])
_frames = {f"/rows/{n}": _frame.head(n).copy() for n in (1, 100)}
_HEADERS = [(b"content-type", b"application/json")]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Drain the body, predict on the pre-built frame for the path, answer ``{"predictions": [...]}``."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    frame = _frames.get(scope["path"])
    if frame is None:
        await send({"type": "http.response.start", "status": 404, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": b'{"error": "POST /rows/1 or /rows/100"}'})
        return
    body = orjson.dumps({"predictions": _model.predict(frame)}, option=orjson.OPT_SERIALIZE_NUMPY)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": body})
