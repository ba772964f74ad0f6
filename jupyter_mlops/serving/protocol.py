"""MLflow scoring protocol (``/invocations``) as plain functions, so any web layer only adapts bytes in and out.

Compatible with ``mlflow models serve``: JSON bodies carry exactly one of ``dataframe_split``,
``dataframe_records``, ``instances`` or ``inputs`` (plus optional ``params``), CSV bodies are a data frame, and
answers are ``{"predictions": ...}``. Errors are ``MLOpsError`` subclasses whose JSON shape matches MLflow's
(``{"error_code": "BAD_REQUEST", "message": ...}``), except that messages never repeat the request payload and
never carry a traceback.

MLflow and pandas are imported inside the functions that need them: importing MLflow costs about a second, and
the daemon should answer its admin API before any model is loaded.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..core.errors import InvalidRequest, MLOpsError, UnsupportedMediaType
from ..core.jsonlimits import MAX_JSON_DEPTH, nested_deeper_than

log = logging.getLogger(__name__)

CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_CSV = "text/csv"
CONTENT_TYPE_PARQUET = "application/vnd.apache.parquet"
CONTENT_TYPES = (CONTENT_TYPE_JSON, CONTENT_TYPE_CSV, CONTENT_TYPE_PARQUET)

DF_SPLIT = "dataframe_split"
DF_RECORDS = "dataframe_records"
INSTANCES = "instances"
INPUTS = "inputs"
PARAMS = "params"
INPUT_FORMATS = (DF_SPLIT, DF_RECORDS, INSTANCES, INPUTS)

REQUIRED_INPUT_FORMAT = (
    "The input must be a JSON dictionary with exactly one of the input fields "
    f"{{{', '.join(repr(f) for f in INPUT_FORMATS)}}}"
)
MAX_MESSAGE_LENGTH = 500


class BadScoringRequest(InvalidRequest):
    """The scoring request cannot be parsed or does not fit the model; MLflow's ``BAD_REQUEST``."""

    code = "BAD_REQUEST"


class PayloadTooLarge(MLOpsError):
    """The request body exceeds the daemon's size limit."""

    status = 413
    code = "PAYLOAD_TOO_LARGE"


@dataclass(frozen=True)
class ScoringModel:
    """What the protocol needs from a loaded pyfunc model, computed once at load time (not per request)."""

    predict: Callable[[Any, dict[str, Any] | None], Any]
    input_schema: Any | None = None
    # Models whose signature comes from type hints take ``inputs`` unparsed (MLflow does the same).
    inputs_as_is: bool = False
    output_schema: Any | None = None
    # Fast path (scikit-learn models whose signature is all required double columns): the flavor's own predict,
    # called on a frame built straight from ``dataframe_split`` JSON after checking it matches the signature
    # exactly, skipping pyfunc's generic input checks (about a millisecond). Same data in, same call: same answer.
    fast_predict: Callable[[Any], Any] | None = None
    fast_columns: tuple[str, ...] | None = None

    @classmethod
    def from_pyfunc(cls, model: Any) -> ScoringModel:
        metadata = model.metadata
        from_type_hint = getattr(metadata, "_is_signature_from_type_hint", None)
        return cls(
            predict=lambda data, params: model.predict(data, params=params),
            input_schema=metadata.get_input_schema(),
            inputs_as_is=bool(from_type_hint()) if callable(from_type_hint) else False,
            output_schema=metadata.get_output_schema(),
            **_fast_path(model),
        )


def _fast_path(model: Any) -> dict[str, Any]:
    """``fast_predict``/``fast_columns`` for scikit-learn models with an all-double column signature, else {}."""
    metadata = model.metadata
    flavor = (getattr(metadata, "flavors", None) or {}).get("python_function", {})
    schema = metadata.get_input_schema()
    raw = getattr(model, "_predict_fn", None)
    if flavor.get("loader_module") != "mlflow.sklearn" or schema is None or not callable(raw):
        return {}
    if schema.is_tensor_spec() or not schema.has_input_names() or metadata.get_params_schema() is not None:
        return {}
    from mlflow.types import DataType

    if not all(
        getattr(spec, "type", None) == DataType.double and getattr(spec, "required", True) for spec in schema.inputs
    ):
        return {}
    columns = tuple(schema.input_names())
    return {"fast_predict": _array_predict(model, columns) or raw, "fast_columns": columns}


# scikit-learn estimators whose ``predict`` turns a float frame into the same float array before anything else
# (``validate_data``), so handing them that array gives the same answer without checking the frame's dtypes
# column by column (about 2/3 of their predict time on one row). Meta-estimators (pipelines, column transformers,
# voting, stacking) pass frames on to steps that may read them by name: they keep the frame.
_ARRAY_SAFE_MODULES = (
    "sklearn.ensemble._gb",
    "sklearn.ensemble._forest",
    "sklearn.ensemble._hist_gradient_boosting.",
    "sklearn.linear_model.",
    "sklearn.tree.",
    "sklearn.neighbors.",
    "sklearn.svm.",
    "sklearn.naive_bayes",
    "sklearn.discriminant_analysis",
    "sklearn.dummy",
    "sklearn.neural_network.",
)
# With an array, scikit-learn warns on every call that the estimator was fitted with feature names; the names
# were checked once at load time (same names, same order), so the warning says nothing here.
_NO_NAMES_WARNING = r"X does not have valid feature names, but \w+ was fitted with feature names"


def _array_predict(model: Any, columns: tuple[str, ...]) -> Callable[[Any], Any] | None:
    """The estimator's ``predict`` on the frame's float array when that is provably the same call, else None."""
    wrapper = getattr(model, "_model_impl", None)
    estimator = getattr(wrapper, "sklearn_model", None)
    if estimator is None or getattr(wrapper, "predict", None) != getattr(model, "_predict_fn", None):
        return None
    if not type(estimator).__module__.startswith(_ARRAY_SAFE_MODULES):
        return None
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and tuple(names) != columns:
        return None  # different names or order: the frame path refuses or reorders, as pyfunc does
    try:
        params = estimator.get_params(deep=False)
    except Exception:
        return None
    if any(hasattr(value, "fit") for value in params.values()):  # a user estimator inside: keep the frame
        return None
    import warnings

    warnings.filterwarnings("ignore", message=_NO_NAMES_WARNING, category=UserWarning, module=r"sklearn\.")
    return ArrayPredict(estimator)


class ArrayPredict:
    """The fast path's call: ``estimator.predict`` on the frame's float array, or, once ``compiled`` is set (after
    the compiled parity gate, see compiled.py), the compiled model's; input the compiled model refuses goes to
    scikit-learn, which answers or raises as it always did."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.compiled: Any | None = None  # a compiled.CompiledModel, swapped in by one reference assignment

    def __call__(self, frame: Any) -> Any:
        values = frame.to_numpy()
        compiled = self.compiled
        if compiled is not None:
            try:
                return compiled.predict(values)
            except ValueError:
                pass
        return self.estimator.predict(values)


_NUMBERS = frozenset((float, int))  # bool, None, str, nested: the general path decides


@functools.lru_cache(maxsize=256)
def _column_index(columns: tuple[str, ...]) -> Any:
    """The frame's column index, built once per signature: pandas infers the dtype of a list of names on every
    frame otherwise (hundreds of microseconds; an Index is immutable, so frames may share it)."""
    import pandas as pd

    return pd.Index(list(columns))


def fast_frame(value: Any, columns: tuple[str, ...]) -> Any | None:
    """A float64 frame from a ``dataframe_split`` object whose columns are exactly ``columns`` and whose cells are
    all JSON numbers (with or without the ``index`` pandas' ``to_dict(orient="split")`` adds); None for anything
    else (the general path then parses and validates it as MLflow does)."""
    if not isinstance(value, dict) or value.get("columns") != list(columns):
        return None
    data, index = value.get("data"), value.get("index")
    if not isinstance(data, list) or not data or len(value) != (2 if index is None else 3):
        return None
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        return None
    width = len(columns)
    numbers = _NUMBERS.issuperset
    for row in data:
        if type(row) is not list or len(row) != width or not numbers(map(type, row)):
            return None
    import numpy as np
    import pandas as pd

    return pd.DataFrame(np.array(data, dtype=np.float64), columns=_column_index(columns), index=index, copy=False)


@dataclass(frozen=True)
class ScoringInput:
    """A parsed request: the data handed to ``predict`` and the optional inference parameters."""

    data: Any
    params: dict[str, Any] | None = None
    fast: bool = False  # built by ``fast_frame``: already matches the signature


def invocations(model: ScoringModel, body: bytes, content_type: str | None) -> bytes:
    """Score one ``/invocations`` request; returns the JSON response body (status 200) or raises MLOpsError."""
    scoring_input = parse_request(body, content_type, model)
    return predictions_to_json(predict(model, scoring_input))


@dataclass(frozen=True)
class Scored:
    """A scored request: the response body, the parsed input and raw predictions (for observers), stage times."""

    body: bytes
    inputs: Any
    outputs: Any
    timings: dict[str, float]


def score(model: ScoringModel, body: bytes, content_type: str | None, max_rows: int | None = None) -> Scored:
    """``invocations`` that also keeps what observers and metrics need: input, output and seconds per stage.

    Validation against the signature happens inside pyfunc's ``predict``, so it is counted in ``predict``.
    ``max_rows`` is checked before the body becomes a frame.
    """
    started = time.perf_counter()
    scoring_input = parse_request(body, content_type, model, max_rows)
    parsed = time.perf_counter()
    outputs = predict(model, scoring_input)
    predicted = time.perf_counter()
    response = predictions_to_json(outputs)
    done = time.perf_counter()
    return Scored(
        response,
        scoring_input.data,
        outputs,
        {"parse": parsed - started, "predict": predicted - parsed, "serialize": done - predicted},
    )


# --- request parsing -------------------------------------------------------------------------------------------


def media_type(content_type: str | None) -> str:
    """The media type of a ``Content-Type`` header; only UTF-8 and no other parameters, as MLflow accepts."""
    if not content_type:
        raise UnsupportedMediaType(f"A Content-Type header is required; supported types: {', '.join(CONTENT_TYPES)}.")
    mime, *parameters = (part.strip() for part in content_type.split(";"))
    options = {key.strip().lower(): value.strip() for key, _, value in (p.partition("=") for p in parameters if p)}
    if options.get("charset", "utf-8").strip('"').lower() != "utf-8":
        raise UnsupportedMediaType("The scoring server only supports UTF-8.")
    if unknown := sorted(set(options) - {"charset"}):
        raise UnsupportedMediaType(f"Unrecognized content type parameters: {', '.join(unknown)[:100]}.")
    mime = mime.lower()
    if mime not in CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"This predictor only supports the following content types: {', '.join(CONTENT_TYPES)}. "
            f"Got {content_type[:100]!r}."
        )
    return mime


def parse_request(
    body: bytes, content_type: str | None, model: ScoringModel, max_rows: int | None = None
) -> ScoringInput:
    """Turn a request body into model input according to its content type and the model's input schema.

    With ``max_rows``, a request with more rows is refused (400) before its data becomes a frame: counted on the
    decoded JSON, the CSV's lines or the Parquet footer."""
    mime = media_type(content_type)
    if mime == CONTENT_TYPE_JSON:
        return parse_json(body, model, max_rows)
    if mime == CONTENT_TYPE_CSV:
        if max_rows is not None:
            check_rows(max(0, body.rstrip(b"\r\n").count(b"\n")), max_rows)  # lines after the header
        return ScoringInput(parse_csv(body, model.input_schema))
    if max_rows is not None:
        check_rows(_parquet_rows(body), max_rows)
    return ScoringInput(parse_parquet(body))


def check_rows(rows: int, max_rows: int) -> None:
    """Refuse a request with more rows than the deployment allows (400, naming the limit)."""
    if rows > max_rows:
        raise BadScoringRequest(f"The request has {rows} rows; this deployment accepts at most {max_rows} per request.")


def json_rows(value: Any, input_format: str) -> int:
    """The number of rows of a decoded MLflow input field, without building a frame (0 when not countable)."""
    if input_format == DF_SPLIT:
        data = value.get("data") if isinstance(value, dict) else None
        return len(data) if isinstance(data, list) else 0
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):  # named inputs / columns: the longest list is the row count
        return max((len(v) for v in value.values() if isinstance(v, list)), default=1)
    return 1


def _parquet_rows(body: bytes) -> int:
    """Rows declared in a Parquet body's footer (0 when it is not Parquet: the parser then says so)."""
    import io

    try:
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(io.BytesIO(body)).metadata.num_rows)
    except Exception:
        return 0


def check_json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse a JSON body nested deeper than ``limit`` before parsing it (400, without repeating the body)."""
    if nested_deeper_than(body, limit):
        raise BadScoringRequest(
            f"Invalid input. The JSON body is nested more than {limit} levels deep, which no scoring input needs."
        )


def decode_json(body: bytes) -> dict[str, Any]:
    """Decode a JSON request body that must be an object (at most ``MAX_JSON_DEPTH`` levels deep)."""
    check_json_depth(body)
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # orjson's message names the position only, never the offending text.
        raise BadScoringRequest(
            f"Invalid input. Ensure that input is a valid JSON formatted string. Error: {exc}"
        ) from None
    if isinstance(decoded, dict):
        return decoded
    kind = "a list" if isinstance(decoded, list) else f"unexpected input type '{type(decoded).__name__}'"
    raise BadScoringRequest(f"Invalid input. {REQUIRED_INPUT_FORMAT}. Received {kind}.")


def parse_json(body: bytes, model: ScoringModel, max_rows: int | None = None) -> ScoringInput:
    """Parse an MLflow JSON scoring request. Keys other than the formats and ``params`` are ignored (as MLflow)."""
    payload = decode_json(body)
    if max_rows is not None:
        for key in INPUT_FORMATS:
            if key in payload:
                check_rows(json_rows(payload[key], key), max_rows)
    params = payload.get(PARAMS)
    if params is not None and not isinstance(params, dict):
        raise BadScoringRequest("Invalid input. 'params' must be a JSON object of parameter names to values.")
    formats = [key for key in INPUT_FORMATS if key in payload]
    if model.inputs_as_is:
        if INPUTS not in payload:
            raise BadScoringRequest(
                "Request payload must be a dictionary with 'inputs' key when the model contains a valid "
                f"type hint. Found input fields: {formats}."
            )
        return ScoringInput(payload[INPUTS], params)
    if len(formats) != 1:
        raise BadScoringRequest(f"{REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: {formats}.")
    (input_format,) = formats
    if model.fast_columns is not None and input_format == DF_SPLIT and params is None:
        frame = fast_frame(payload[DF_SPLIT], model.fast_columns)
        if frame is not None:
            return ScoringInput(frame, None, fast=True)
    return ScoringInput(_parse_format(input_format, payload[input_format], model.input_schema), params)


def _parse_format(input_format: str, value: Any, schema: Any | None) -> Any:
    from mlflow.exceptions import MlflowException
    from mlflow.utils.proto_json_utils import dataframe_from_parsed_json, parse_tf_serving_input

    try:
        if input_format in (INSTANCES, INPUTS):
            return parse_tf_serving_input({input_format: value}, schema=schema)
        return dataframe_from_parsed_json(value, pandas_orient=input_format[len("dataframe_") :], schema=schema)
    except MlflowException as exc:
        raise BadScoringRequest(_without_payload(exc.message)) from None
    except Exception as exc:
        raise BadScoringRequest(
            f"Invalid input. The '{input_format}' field is not a valid representation ({type(exc).__name__})."
        ) from None


def parse_csv(body: bytes, schema: Any | None) -> Any:
    """A CSV body (as written by ``DataFrame.to_csv``) as a data frame, typed by the schema's columns."""
    import io

    import pandas as pd

    try:
        text = body.decode("utf-8")
        dtypes = None
        if schema is not None and schema.has_input_names():
            dtypes = dict(zip(schema.input_names(), schema.pandas_types(), strict=True))
        return pd.read_csv(io.StringIO(text), dtype=dtypes)
    except Exception as exc:
        raise BadScoringRequest(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted "
            f"Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method ({type(exc).__name__})."
        ) from None


def parse_parquet(body: bytes) -> Any:
    """A Parquet body as a data frame."""
    import io

    import pandas as pd

    try:
        return pd.read_parquet(io.BytesIO(body))
    except Exception as exc:
        raise BadScoringRequest(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid Parquet Pandas "
            f"DataFrame produced using the `pandas.DataFrame.to_parquet()` method ({type(exc).__name__})."
        ) from None


# --- prediction ------------------------------------------------------------------------------------------------


def predict(model: ScoringModel, scoring_input: ScoringInput) -> Any:
    """Run the model; schema violations and model errors become 400s with a message that omits the data."""
    if scoring_input.fast and model.fast_predict is not None:
        try:
            return model.fast_predict(scoring_input.data)
        except Exception as exc:  # the general path then produces MLflow's answer (and its error message)
            log.debug("Fast path declined (%s); using pyfunc", type(exc).__name__)
    from mlflow.exceptions import MlflowException

    try:
        return model.predict(scoring_input.data, scoring_input.params)
    except MlflowException as exc:
        # pyfunc wraps schema errors as "Failed to enforce schema of data '<the data>' ... Error: <cause>";
        # the cause (e.g. "Model is missing inputs ['x']") is the chained exception, without the data.
        cause = exc.__context__
        if getattr(exc, "error_class", None) == "SCHEMA_ENFORCEMENT_FAILED" or (
            isinstance(cause, Exception) and exc.message.startswith("Failed to enforce schema")
        ):
            detail = _message_of(cause) if isinstance(cause, Exception) else "the input does not match it"
            error = BadScoringRequest(_without_payload(f"Failed to enforce the model's input schema: {detail}"))
        else:
            error = BadScoringRequest(_without_payload(exc.message))
        # Keep MLflow's own error code (e.g. INVALID_PARAMETER_VALUE for a missing column), as its server does.
        code = getattr(exc, "error_code", None)
        if code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST"):  # 400s; anything else stays BAD_REQUEST
            error.code = code
        raise error from None
    except Exception as exc:
        log.warning("Model raised %s while predicting", type(exc).__name__)
        log.debug("Prediction error", exc_info=True)
        raise BadScoringRequest(
            "Encountered an unexpected error while evaluating the model. Verify that the serialized input "
            f"Dataframe is compatible with the model for inference ({type(exc).__name__})."
        ) from None


def _message_of(exc: Exception) -> str:
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) else str(exc)


# MLflow's conversion helpers quote the offending data in a few messages; keep the part that names the column.
_DATA_QUOTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?:of |for )?data '.*?' with schema", re.DOTALL), "with schema"),
    (re.compile(r"(?:for |of )?data `.*", re.DOTALL), ""),
    (re.compile(r"\s*Error: '.*", re.DOTALL), ""),
    (re.compile(r"\s*Error: \w+\(.*", re.DOTALL), ""),
)


def _without_payload(message: str) -> str:
    """Strip the fragments in which MLflow quotes request data, and bound the length."""
    for pattern, replacement in _DATA_QUOTES:
        message = pattern.sub(replacement, message)
    message = message.strip() or "Invalid input."
    if len(message) > MAX_MESSAGE_LENGTH:
        message = message[: MAX_MESSAGE_LENGTH - 3] + "..."
    return message


# --- responses -------------------------------------------------------------------------------------------------

_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def predictions_to_json(raw_predictions: Any) -> bytes:
    """``{"predictions": ...}`` as MLflow renders it: arrays as lists, data frames and series as records."""
    return orjson.dumps({"predictions": jsonable(raw_predictions)}, default=_json_default, option=_JSON_OPTIONS)


def jsonable(data: Any) -> Any:
    """Data frames and series become lists of records (MLflow's ``orient="records"``); the rest passes through."""
    import sys

    pd = sys.modules.get("pandas")
    if pd is not None:
        if isinstance(data, pd.DataFrame):
            return data.to_dict(orient="records")
        if isinstance(data, pd.Series):
            return pd.DataFrame(data).to_dict(orient="records")
    return data


def _json_default(value: Any) -> Any:
    """Fallback for what orjson cannot encode natively (object arrays, numpy scalars, bytes, timestamps)."""
    import base64
    import datetime as dt

    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        return base64.encodebytes(bytes(value)).decode("ascii")
    if isinstance(value, (dt.date, dt.datetime, dt.time)) or hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump()
    raise TypeError(f"Type {type(value).__name__} is not JSON serializable")


def error_body(error: MLOpsError) -> bytes:
    """The JSON body of an error response: ``{"error_code": ..., "message": ...}``."""
    return orjson.dumps(error.to_dict())
