"""What a registration derives from an in-memory model.

Signature, input example, parameters, training metrics, the seeded training sample the deploy-time parity gate
replays, and the labelled reference set that performance is estimated from when live labels are missing.

Everything but the signature is best effort: a model without ``get_params`` or ``score`` registers all the same.
"""

from __future__ import annotations

import logging
from typing import Any

from .errors import InvalidRequest
from .models import ModelVersion
from .monitoring import baseline as baselines
from .monitoring import reference as references
from .registry import Registry

log = logging.getLogger(__name__)


def _predict_fn(model: Any) -> Any:
    if hasattr(model, "predict"):
        return model.predict
    if callable(model):
        return model
    return None


def signature_and_example(model: Any, X: Any) -> tuple[Any, Any]:
    """The MLflow signature inferred from X and the model's predictions on it, and X's first rows as example."""
    if X is None:
        return None, None
    from mlflow.models import infer_signature

    example = X.head(5) if hasattr(X, "head") else X[:5]
    fn = _predict_fn(model)
    try:
        output = fn(X) if fn is not None and not _is_python_model(model) else None
    except Exception as exc:
        raise InvalidRequest(
            f"The model failed to predict on X ({type(exc).__name__}: {exc}); pass the features it was trained on."
        ) from None
    return infer_signature(X, output), example


def _is_python_model(model: Any) -> bool:
    import mlflow.pyfunc

    return isinstance(model, mlflow.pyfunc.PythonModel)


def model_params(model: Any) -> dict[str, Any]:
    """Hyper-parameters of estimators that expose them (scikit-learn's get_params), primitives only."""
    getter = getattr(model, "get_params", None)
    if getter is None:
        return {}
    try:
        params = getter(deep=False)
    except Exception:
        return {}
    return {k: v for k, v in params.items() if isinstance(v, (str, int, float, bool)) or v is None}


def training_metrics(model: Any, X: Any, y: Any) -> dict[str, float]:
    """The model's training score on (X, y), for estimators with ``score``."""
    if X is None or y is None or not hasattr(model, "score"):
        return {}
    try:
        return {"training_score": float(model.score(X, y))}
    except Exception:
        return {}


def log_version(
    registry: Registry,
    model: Any,
    name: str,
    X: Any,
    y: Any,
    *,
    tags: dict[str, str],
    description: str | None,
    params: dict[str, Any] | None,
    metrics: dict[str, float] | None,
) -> ModelVersion:
    """Log ``model`` (or register a ``runs:/``/``models:/`` URI) as a new version of ``name``."""
    if isinstance(model, str):
        return registry.register_uri(model, name, tags=tags, description=description)
    signature, example = signature_and_example(model, X)
    return registry.log_model(
        model,
        name,
        signature=signature,
        input_example=example,
        params={**model_params(model), **(params or {})},
        metrics={**training_metrics(model, X, y), **(metrics or {})},
        tags=tags,
        description=description,
    )


def record_parity_sample(registry: Registry, version: ModelVersion, X: Any, rows: int) -> None:
    """Store a seeded sample of ``rows`` training rows beside the baseline (0 = off).

    A failure is logged, never raised: the registration stands, and the gate then checks the input example only.
    """
    if not version.run_id or rows <= 0:
        return
    try:
        sample = baselines.parity_sample(X, rows)
        if sample is None:
            return
        registry.log_run_json(version.run_id, baselines.PARITY_SAMPLE_ARTIFACT, sample)
        tag = f"{baselines.PARITY_SAMPLE_ARTIFACT} ({len(sample['data'])} rows)"
        registry.set_version_tags(version.name, version.version, {"mlops.data.parity_sample": tag})
    except Exception as exc:
        log.warning("No parity sample for %s/%s: %s", version.name, version.version, exc)


def input_columns(registry: Registry, model: Any, X: Any) -> list[str] | None:
    """The model's named input columns: X's columns, else the signature of a ``runs:/``/``models:/`` URI."""
    if X is not None:
        return [str(c) for c in X.columns] if hasattr(X, "columns") else None
    if not isinstance(model, str):
        return None
    import mlflow

    try:
        with registry.fluent():
            info = mlflow.models.get_model_info(model)
    except Exception:  # the URI itself is checked (and refused with its own message) when it is registered
        return None
    if info.signature is None:
        return None
    signature = {k: v for k, v in info.signature.to_dict().items()}
    import json

    parsed = {k: json.loads(v) if isinstance(v, str) else v for k, v in signature.items()}
    return references.signature_columns(parsed)


def check_reference(registry: Registry, model: Any, X: Any, reference: Any) -> tuple[Any, Any] | None:
    """The labelled reference set checked before anything is logged (None when none was given).

    Raises:
        InvalidRequest: Columns other than the model's (naming the missing and extra ones), no labels, a label
            count that differs from the row count, or rows the model trained on.
    """
    if reference is None:
        return None
    if isinstance(model, str) and model.startswith("models:/"):
        # MLflow registers a models:/ URI without a run of its own, and the reference lives in the version's run:
        # refused now, before a version is registered that could not keep it.
        raise InvalidRequest(
            f"A reference set is kept in the version's MLflow run, and {model} registers without one: register "
            "from runs:/<run_id>/<path> (or the model object) to give the new version its reference set."
        )
    return references.check_reference(reference, input_columns(registry, model, X), training=X)


def record_reference(registry: Registry, version: ModelVersion, checked: tuple[Any, Any] | None) -> None:
    """Store a checked reference set as an artifact of the version's run (``mlops/reference.parquet``)."""
    if checked is not None:
        references.store_reference(registry, version, checked[0], checked[1])
