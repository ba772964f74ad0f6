"""Client side of MLflow's scoring protocol: turn notebook data into a request, a response into results."""

from __future__ import annotations

import json
from typing import Any

from .errors import InvalidRequest

_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def scoring_request(data: Any, params: dict[str, Any] | None = None) -> bytes:
    """Encode ``data`` (DataFrame, Series, ndarray, list of rows/records, or a ready scoring dict) as JSON."""
    body: dict[str, Any]
    try:
        import pandas as pd

        if isinstance(data, pd.Series):
            data = data.to_frame().T if data.name is None else data.to_frame()
        if isinstance(data, pd.DataFrame):
            split = json.loads(data.to_json(orient="split", index=False, date_format="iso"))
            body = {"dataframe_split": {"columns": split["columns"], "data": split["data"]}}
        elif isinstance(data, dict) and any(key in data for key in _FORMATS):
            body = dict(data)
        elif isinstance(data, dict):
            body = {"inputs": data}
        elif isinstance(data, list) and data and all(isinstance(row, dict) for row in data):
            body = {"dataframe_records": data}
        elif hasattr(data, "tolist") or isinstance(data, list):
            body = {"inputs": data}
        else:
            raise InvalidRequest(
                f"Cannot send {type(data).__name__} to a model: pass a pandas DataFrame, a numpy array, a list "
                "of rows or records, or a dict in MLflow's scoring format."
            )
        if params:
            body["params"] = params
        return json.dumps(body, default=_jsonable, allow_nan=True).encode()
    except TypeError as exc:
        raise InvalidRequest(f"The input could not be encoded as JSON: {exc}.") from None


def predictions(body: bytes) -> Any:
    """The ``predictions`` of a scoring response (MLflow wraps them in an object)."""
    decoded = json.loads(body)
    if isinstance(decoded, dict) and "predictions" in decoded:
        return decoded["predictions"]
    return decoded


def error_message(body: bytes, status: int) -> str:
    """The message of an endpoint's error body (or its status when it has none)."""
    try:
        decoded = json.loads(body)
        if isinstance(decoded, dict) and decoded.get("message"):
            return str(decoded["message"])
    except ValueError:
        pass
    return f"The endpoint answered HTTP {status}."
