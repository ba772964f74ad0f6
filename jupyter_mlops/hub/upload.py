"""The kernel's side of registering in team mode: save the model locally as an MLflow model and pack it.

A live model object never crosses to the MLOps service (unpickling it there would run user code in the process that
holds the store's credentials). The kernel, which already runs the user's code, does everything that needs the model
object, with the same core functions the embedded ``register`` uses: the MLflow flavor and its save (signature and
input example inferred from ``X``), parameters and training metrics, the monitoring baseline (training profile and
the model's predictions) and the parity sample. It packs the model directory as a tar.gz with ``MLmodel`` at its
root, and puts what it computed in one JSON file beside it (``REGISTRATION_FILE``), which the service reads as data.

Framework-free (MLflow, pandas): importable in a kernel without tornado or jupyterhub.
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from ..core import lineage, registration
from ..core.monitoring import baseline as baselines
from ..core.monitoring import labels

# The member of the archive that carries what the kernel computed (JSON only; never part of the model's artifacts).
REGISTRATION_FILE = "_mlops_registration.json"


def save_model(model: Any, path: Path, X: Any) -> None:
    """Save ``model`` as an MLflow model directory at ``path``, with the flavor the embedded register would log."""
    from ..core.registry import Registry

    signature, example = registration.signature_and_example(model, X)
    flavor, kwargs = Registry._flavor_for(model)
    with _quiet_mlflow():
        flavor.save_model(path=str(path), signature=signature, input_example=example, **kwargs)


def training_profile(model: Any, X: Any) -> dict[str, Any] | None:
    """The monitoring baseline of ``X`` and the model's predictions on it (None when it cannot be computed)."""
    if X is None:
        return None
    import numpy as np
    import pandas as pd

    from ..core.monitoring.service import BASELINE_MAX_ROWS  # as the embedded baseline: a seeded sample past it

    try:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
        if len(frame) > BASELINE_MAX_ROWS:
            frame = frame.sample(BASELINE_MAX_ROWS, random_state=0)
        return baselines.build_profile(frame, labels.predictions(model, frame))
    except Exception:
        return None


def prepare(
    model: Any,
    X: Any,
    y: Any,
    *,
    parity_rows: int,
    params: dict[str, Any] | None,
    metrics: dict[str, float] | None,
    tags: dict[str, str] | None,
    description: str | None,
    alias: str | None,
    notebook: str | None,
    user: str | None,
    reference: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the service registers besides the model's files: all JSON, computed here from the live model."""
    parity = None
    if X is not None and parity_rows > 0:
        try:
            parity = baselines.parity_sample(X, parity_rows)
        except Exception:
            parity = None
    return {
        "params": {k: str(v)[:6000] for k, v in {**registration.model_params(model), **(params or {})}.items()},
        "metrics": {k: float(v) for k, v in {**registration.training_metrics(model, X, y), **(metrics or {})}.items()},
        "tags": dict(tags or {}),
        "lineage": lineage.capture(X, notebook=notebook, user=user),
        "description": description,
        "alias": alias,
        "baseline": training_profile(model, X),
        "parity_sample": parity,
        "reference": reference,
    }


def reference_table(X: Any, reference: Any) -> dict[str, Any] | None:
    """The labelled reference set checked here as the embedded register checks it (columns, labels, rows the
    model trained on: only this side has the training rows), as JSON for the service, which checks it again
    against the uploaded model's signature. None without a reference."""
    if reference is None:
        return None
    from ..core.monitoring import reference as references

    columns = [str(c) for c in X.columns] if hasattr(X, "columns") else None
    features, labels = references.check_reference(reference, columns, training=X)
    return {
        "columns": [str(c) for c in features.columns],
        "data": json.loads(features.to_json(orient="split", date_format="iso"))["data"],
        "labels": json.loads(labels.to_json(orient="records")),
    }


def pack(
    model: Any,
    X: Any,
    y: Any,
    folder: Path,
    **metadata: Any,
) -> Path:
    """Save, describe and pack ``model`` into ``folder/model.tar.gz``; returns the archive's path."""
    model_dir = folder / "model"
    save_model(model, model_dir, X)
    (model_dir / REGISTRATION_FILE).write_text(json.dumps(prepare(model, X, y, **metadata), default=str))
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for item in sorted(model_dir.rglob("*")):
            tar.add(item, arcname=str(item.relative_to(model_dir)), recursive=False)
    return archive


class _quiet_mlflow:
    """Silence MLflow's warning about pickle formats while saving (the user chose their model; see README)."""

    def __enter__(self) -> None:
        import logging

        self._logger = logging.getLogger("mlflow")
        self._level = self._logger.level
        self._logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self._logger.setLevel(self._level)


def temporary_folder() -> tempfile.TemporaryDirectory[str]:
    """A private scratch folder for the archive (removed after the upload)."""
    return tempfile.TemporaryDirectory(prefix="mlops-upload-", dir=os.environ.get("TMPDIR"))
