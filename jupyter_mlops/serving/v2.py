"""Open Inference Protocol V2 (KServe / Triton / MLServer REST): model metadata and ``infer``, as plain functions.

Tensors map onto the model's MLflow signature: a column-based signature takes either one input per column
(shape ``[N]`` or ``[N, 1]``) or a single ``[N, C]`` input whose C columns are the signature's, in order; a
tensor-based signature takes its named tensors. JSON ``data`` and binary tensor data (the
``Inference-Header-Content-Length`` extension that ``tritonclient`` uses by default) are both accepted; answers
are JSON. Errors are ``{"error": message}`` and, as everywhere in the daemon, never repeat the payload.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import orjson

from ..core.errors import InvalidRequest, UnsupportedMediaType
from .protocol import (
    BadScoringRequest,
    Scored,
    ScoringInput,
    ScoringModel,
    check_json_depth,
    check_rows,
    predict,
)

BINARY_HEADER = "inference-header-content-length"

# MLflow column types and numpy dtypes to V2 datatypes, and back.
_MLFLOW_TO_V2 = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
    "binary": "BYTES",
    "datetime": "BYTES",
}
_V2_TO_NUMPY: dict[str, Any] = {
    "BOOL": np.bool_,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}


def numpy_datatype(dtype: np.dtype[Any]) -> str:
    """The V2 datatype of a numpy dtype (strings and objects are BYTES)."""
    if dtype.kind == "b":
        return "BOOL"
    if dtype.kind in "iuf":
        prefix = {"i": "INT", "u": "UINT", "f": "FP"}[dtype.kind]
        return f"{prefix}{dtype.itemsize * 8}"
    return "BYTES"


def _schema_tensors(schema: Any, unnamed: str = "input") -> list[dict[str, Any]]:
    """V2 tensor metadata from an MLflow schema (column or tensor based); [] when the model has none."""
    if schema is None:
        return []
    tensors = []
    for index, spec in enumerate(schema.inputs):
        name = getattr(spec, "name", None) or (unnamed if len(schema.inputs) == 1 else f"{unnamed}-{index}")
        if schema.is_tensor_spec():
            datatype = numpy_datatype(np.dtype(spec.type))
            shape = [int(d) for d in spec.shape]
        else:
            datatype = _MLFLOW_TO_V2.get(str(getattr(spec.type, "name", spec.type)), "BYTES")
            shape = [-1]
        tensors.append({"name": name, "datatype": datatype, "shape": shape})
    return tensors


def metadata(deployment: str, versions: list[str], model: ScoringModel) -> dict[str, Any]:
    """``GET /v2/models/{name}``: name, versions, platform and the signature's inputs and outputs."""
    outputs = _schema_tensors(model.output_schema, "predictions") or [
        {"name": "predictions", "datatype": "BYTES", "shape": [-1]}
    ]
    return {
        "name": deployment,
        "versions": versions,
        "platform": "mlflow",
        "inputs": _schema_tensors(model.input_schema),
        "outputs": outputs,
    }


# --- content types: what a web page cannot send without a CORS preflight --------------------------------------

JSON_TYPES = frozenset({"application/json"})
BINARY_TYPES = frozenset({"application/octet-stream", "application/json"})


def check_content_type(content_type: str | None, json_length: str | None, origin: str | None = None) -> None:
    """Accept what a web page cannot send without a CORS preflight (which this daemon never grants): JSON, binary
    tensors (``Inference-Header-Content-Length``, a non-safelisted header) and, from non-browser clients only (no
    ``Origin`` header: ``tritonclient`` sends JSON without a Content-Type), a body without a Content-Type. Refuse
    text/plain, forms, multipart and untyped bodies from browsers with 415."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if json_length is not None:
        if not mime or mime in BINARY_TYPES or mime.startswith("application/vnd."):
            return
    elif mime in JSON_TYPES or (not mime and origin is None):
        return
    raise UnsupportedMediaType(
        f"Unsupported Content-Type {(content_type or 'none')[:80]!r} for V2 inference: send application/json, or "
        "binary tensors with the Inference-Header-Content-Length header (application/octet-stream)."
    )


# --- infer --------------------------------------------------------------------------------------------------------


def _decode(body: bytes, json_length: str | None) -> tuple[dict[str, Any], bytes]:
    """The JSON part of an infer request and the binary tensor data after it (if any)."""
    if json_length is not None:
        try:
            length = int(json_length)
        except ValueError:
            raise BadScoringRequest("Invalid Inference-Header-Content-Length header.") from None
        if not 0 <= length <= len(body):
            raise BadScoringRequest("Inference-Header-Content-Length exceeds the body.")
        head, rest = body[:length], body[length:]
    else:
        head, rest = body, b""
    check_json_depth(head)  # the same limit as the MLflow protocol, before parsing
    try:
        payload = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise BadScoringRequest(f"The inference request is not valid JSON ({exc}).") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list) or not payload["inputs"]:
        raise BadScoringRequest('An inference request is a JSON object with a non-empty "inputs" list of tensors.')
    return payload, rest


def _tensor(spec: Any, binary: memoryview, offset: int) -> tuple[str, np.ndarray[Any, Any], int]:
    """One input tensor as a numpy array shaped as declared; returns (name, array, new binary offset)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise BadScoringRequest('Each input tensor needs "name", "shape", "datatype" and "data".')
    name = spec["name"][:100]
    datatype, shape = spec.get("datatype"), spec.get("shape")
    if datatype not in _V2_TO_NUMPY:
        raise BadScoringRequest(f"Input {name!r} has an unsupported datatype; use one of {', '.join(_V2_TO_NUMPY)}.")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise BadScoringRequest(f"Input {name!r} needs a shape: a list of non-negative integers.")
    dtype = _V2_TO_NUMPY[datatype]
    parameters = spec.get("parameters") or {}
    size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
    try:
        if size is not None:
            if datatype == "BYTES":
                raise BadScoringRequest(f"Input {name!r}: send BYTES tensors as JSON data (binary_data=False).")
            raw = binary[offset : offset + int(size)]
            if len(raw) != int(size):
                raise BadScoringRequest(f"Input {name!r}: the binary data is shorter than binary_data_size.")
            array = np.frombuffer(raw, dtype=dtype).reshape(shape)
            return name, array, offset + int(size)
        data = spec.get("data")
        if not isinstance(data, list):
            raise BadScoringRequest(f"Input {name!r} has no data (a flat or nested JSON list).")
        array = np.asarray(data, dtype=dtype).reshape(shape)
    except BadScoringRequest:
        raise
    except (ValueError, TypeError):
        raise BadScoringRequest(
            f"Input {name!r}: its data does not fit shape {shape} and datatype {datatype}."
        ) from None
    return name, array, offset


def check_shapes(payload: dict[str, Any], max_rows: int) -> None:
    """Refuse tensors whose declared first dimension (rows) exceeds ``max_rows``, before any array is built."""
    for spec in payload["inputs"]:
        shape = spec.get("shape") if isinstance(spec, dict) else None
        if isinstance(shape, list) and shape and isinstance(shape[0], int) and not isinstance(shape[0], bool):
            check_rows(shape[0], max_rows)


def to_model_input(payload: dict[str, Any], binary: bytes, model: ScoringModel, max_rows: int | None = None) -> Any:
    """Turn the request's tensors into what the model's signature expects (a DataFrame for column schemas)."""
    import pandas as pd

    if max_rows is not None:
        check_shapes(payload, max_rows)
    tensors: dict[str, np.ndarray[Any, Any]] = {}
    offset, view = 0, memoryview(binary)
    for spec in payload["inputs"]:
        name, array, offset = _tensor(spec, view, offset)
        tensors[name] = array
    schema = model.input_schema
    if schema is not None and schema.is_tensor_spec():
        if len(tensors) == 1 and not schema.has_input_names():
            return next(iter(tensors.values()))
        return tensors
    columns = schema.input_names() if schema is not None and schema.has_input_names() else None
    if len(tensors) == 1:
        ((name, array),) = tensors.items()
        if array.ndim == 2 and columns and array.shape[1] == len(columns) and name not in columns:
            return pd.DataFrame(array, columns=columns)
        if array.ndim == 2 and not columns:
            return pd.DataFrame(array)
    frame = {}
    for name, array in tensors.items():
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise BadScoringRequest(
                f"Input {name!r} has shape {list(array.shape)}; send one [N] tensor per column, or one [N, C] "
                "tensor with the signature's columns in order."
            )
        frame[name] = array
    lengths = {len(a) for a in frame.values()}
    if len(lengths) != 1:
        raise BadScoringRequest("All column tensors must have the same number of rows.")
    return pd.DataFrame(frame)


def _fits_fast_path(data: Any, model: ScoringModel) -> bool:
    """Whether a frame may skip pyfunc's input checks, on the conditions of ``/invocations``' fast path: exactly the
    signature's double columns, in order, and finite values (what a JSON ``dataframe_split`` can carry)."""
    columns = model.fast_columns
    if columns is None or model.fast_predict is None or not hasattr(data, "columns") or not hasattr(data, "dtypes"):
        return False
    if len(data.columns) != len(columns) or list(data.columns) != list(columns) or len(data) == 0:
        return False
    if not all(dtype == np.float64 for dtype in data.dtypes):
        return False
    return bool(np.isfinite(data.to_numpy()).all())


def outputs_of(predictions: Any, schema: Any) -> list[dict[str, Any]]:
    """Predictions as V2 output tensors: one per DataFrame column or dict key, else one ``predictions`` tensor."""
    import sys

    pd = sys.modules.get("pandas")
    named: dict[str, Any]
    if pd is not None and isinstance(predictions, pd.DataFrame):
        named = {str(column): predictions[column].to_numpy() for column in predictions.columns}
    elif isinstance(predictions, dict):
        named = {str(k): np.asarray(v) for k, v in predictions.items()}
    else:
        array = predictions.to_numpy() if hasattr(predictions, "to_numpy") else np.asarray(predictions)
        output_names = schema.input_names() if schema is not None and schema.has_input_names() else []
        named = {output_names[0] if len(output_names) == 1 else "predictions": array}
    outputs = []
    for name, array in named.items():
        datatype = numpy_datatype(array.dtype)
        data = array.reshape(-1).tolist()
        if datatype == "BYTES":
            data = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in data]
        outputs.append({"name": name, "datatype": datatype, "shape": list(array.shape), "data": data})
    return outputs


def infer(
    model: ScoringModel,
    body: bytes,
    json_length: str | None,
    *,
    deployment: str,
    version: str,
    request_id: str,
    max_rows: int | None = None,
) -> Scored:
    """``POST /v2/models/{name}[/versions/{v}]/infer``: parse tensors, predict, answer with output tensors.

    ``max_rows`` (the deployment's limit, as on ``/invocations``) is checked on the declared shapes first."""
    started = time.perf_counter()
    payload, binary = _decode(body, json_length)
    data = to_model_input(payload, binary, model, max_rows)
    params = payload.get("parameters")
    params = params if isinstance(params, dict) and params else None
    fast = params is None and _fits_fast_path(data, model)
    parsed = time.perf_counter()
    predictions = predict(model, ScoringInput(data, params, fast=fast))
    predicted = time.perf_counter()
    answer = {
        "model_name": deployment,
        "model_version": version,
        "id": str(payload.get("id") or request_id)[:200],
        "outputs": outputs_of(predictions, model.output_schema),
    }
    response = orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)
    done = time.perf_counter()
    return Scored(response, data, predictions, {"parse": parsed - started, "predict": predicted - parsed,
                                                 "serialize": done - predicted})  # fmt: skip


def error_body(error: InvalidRequest | Exception) -> bytes:
    return orjson.dumps({"error": getattr(error, "message", None) or type(error).__name__})
