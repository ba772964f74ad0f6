"""What an isolated worker hands its daemon is read as data, never run: the record frames of ``worker_log``.

The worker runs user code, so a model may write anything on the pipe. The daemon decodes frames without pickle
(no code runs), checks every size and dtype, and names the deployment itself. One table: each row a frame a
hostile model could write, and what the daemon makes of it.
"""

from __future__ import annotations

import pickle

import numpy as np
import orjson
import pandas as pd
import pytest

from jupyter_mlops.core.monitoring.storage import Rows
from jupyter_mlops.serving.records import RequestRecord
from jupyter_mlops.serving.worker_log import BadRecord, decode_record, encode_record


def record(**changes: object) -> RequestRecord:
    fields: dict[str, object] = dict(
        request_id="r1", deployment="mine", variant="primary", model_version="1", time=1.0, latency_ms=2.0,
        status=200, shadow=False, inputs=pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}), outputs=np.array([0, 1]),
    )  # fmt: skip
    fields.update(changes)
    return RequestRecord(**fields)  # type: ignore[arg-type]


def body(frame: bytes) -> bytes:
    """A frame without its length prefix (what the daemon's reader hands ``decode_record``)."""
    assert int.from_bytes(frame[:4], "little") == len(frame) - 4
    return frame[4:]


def forged(header: dict[str, object], payload: bytes = b"") -> bytes:
    data = orjson.dumps(header)
    return len(data).to_bytes(4, "little") + data + payload


BASE = {"request_id": "r", "variant": "primary", "model_version": "1", "time": 1.0, "latency_ms": 1.0, "status": 200}


def test_a_record_round_trips_and_is_logged_under_the_daemons_name() -> None:
    decoded = decode_record(body(encode_record(record(deployment="someone-elses"))), "mine")
    assert decoded.deployment == "mine"  # a worker cannot log for another deployment
    assert isinstance(decoded.inputs, Rows) and decoded.inputs.columns == ("a", "b")
    assert decoded.inputs.values.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert decoded.outputs.tolist() == [0, 1]
    mixed = decode_record(body(encode_record(record(inputs=pd.DataFrame({"a": [1], "s": ["x"]})))), "mine")
    assert mixed.inputs.to_dict(orient="list") == {"a": [1], "s": ["x"]}
    texts = decode_record(body(encode_record(record(outputs=["yes", "no"], inputs=None))), "mine")
    assert texts.outputs.tolist() == ["yes", "no"] and texts.inputs is None
    nested = decode_record(body(encode_record(record(outputs={"p": np.array([0.5, 0.25])}))), "mine")
    assert nested.outputs == {"p": [0.5, 0.25]}


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (pickle.dumps(("r", "mine", "primary")), "header longer than its frame"),  # a pickle is never unpickled
        (forged({**BASE, "status": 99}), "must be an HTTP status"),
        (forged({**BASE, "status": True}), "must be an HTTP status"),
        (forged({**BASE, "time": "now"}), "finite number"),
        (forged({**BASE, "request_id": "x" * 10_000}), "at most 256 characters"),
        (
            forged({**BASE, "inputs": {"kind": "array", "dtype": "|O", "shape": [1], "size": 8}}, b"\0" * 8),
            "not a plain dtype",
        ),
        (
            forged({**BASE, "inputs": {"kind": "array", "dtype": "V8", "shape": [1], "size": 8}}, b"\0" * 8),
            "not a plain dtype",
        ),
        (
            forged({**BASE, "inputs": {"kind": "array", "dtype": "<f8", "shape": [9], "size": 8}}, b"\0" * 8),
            "shape does not match",
        ),
        (
            forged({**BASE, "inputs": {"kind": "array", "dtype": "<f8", "shape": [1], "size": 64}}, b"\0" * 8),
            "size does not match the frame",
        ),
        (forged({**BASE, "inputs": {"kind": "pickle", "size": 1}}, b"\0"), "unknown payload kind"),
        (forged({**BASE, "outputs": {"kind": "arrow", "size": 4}}, b"junk"), "unreadable payload"),
        (forged([1, 2, 3]), "must be an object"),  # type: ignore[arg-type]
        (b"\xff\xff\xff\x7f", "header longer"),
    ],
)
def test_a_frame_that_is_not_a_record_is_refused(frame: bytes, why: str) -> None:
    with pytest.raises(BadRecord, match=why):
        decode_record(frame, "mine")
