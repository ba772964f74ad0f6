"""The parity gate: a deployment whose served predictions differ from the registered model's fails to deploy."""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.core.errors import DeploymentFailed
from jupyter_mlops.serving.parity import compare


class Dice(mlflow.pyfunc.PythonModel):
    """Deliberately non-deterministic: each call answers differently, so served != in-process."""

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return np.random.default_rng().random(len(model_input))


def test_compare_accepts_equal_within_tolerance_and_describes_differences() -> None:
    assert compare(np.array([0.1, 0.2], dtype=np.float32), [0.1, 0.2], 1e-6) is None
    assert compare(pd.DataFrame({"a": [1, 2]}), [{"a": 1}, {"a": 2}], 0) is None
    assert compare(np.array(["x", "y"]), ["x", "y"], 0) is None
    difference = compare(np.array([1.0, 2.0, 3.0]), [1.0, 2.5, 3.0], 1e-6)
    assert difference is not None and "1 of 3 rows differ" in difference and "row 1: served 2.5" in difference
    assert "returned 1 predictions for 2 rows" in (compare([1, 2], [1], 0) or "")


def test_a_non_deterministic_model_fails_the_warming_step_with_a_readable_difference(gov_mlops, iris) -> None:
    X, _ = iris
    gov_mlops.register(Dice(), "gov-dice", X)

    with pytest.raises(DeploymentFailed) as failure:
        gov_mlops.deploy("gov-dice", "gov-dice")
    gov_mlops.undeploy("gov-dice")

    message = failure.value.message
    assert "warming" in message and "Served predictions differ" in message and "rows differ" in message


def test_a_deterministic_model_passes_the_gate(gov_mlops, gov_iris) -> None:
    deployment = gov_mlops.deploy("iris/1", "gov-parity-ok")
    try:
        warming = next(s for s in deployment.steps if s.name == "warming")
        assert "parity with in-process predictions: ok" in (warming.message or "")
    finally:
        gov_mlops.undeploy("gov-parity-ok")
