"""The parity gate: a deployment whose served predictions differ from the registered model's fails to deploy."""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.errors import DeploymentFailed
from jupyter_mlops.core.monitoring.baseline import PARITY_SAMPLE_ARTIFACT, parity_sample, sample_input
from jupyter_mlops.serving.parity import compare


class Dice(mlflow.pyfunc.PythonModel):
    """Deliberately non-deterministic: each call answers differently, so served != in-process."""

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return np.random.default_rng().random(len(model_input))


class NoisyOnLargePetals(mlflow.pyfunc.PythonModel):
    """Deterministic on small petals, but samples noise on large ones (say, Monte-Carlo dropout left on in one
    branch). The input example (the first five iris rows) holds only small petals, so only the training rows can
    show the difference between served and in-process predictions."""

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        petal = model_input["petal_length"].to_numpy(dtype=float)
        noise = np.random.default_rng().normal(size=len(petal))
        return np.where(petal < 2.5, petal, petal + noise)


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
    assert "on the input example" in message


def test_the_parity_sample_is_seeded_small_and_exact() -> None:
    frame = pd.DataFrame(
        {
            "x": np.random.default_rng(1).random(500) * 1e-12,  # values JSON must keep to the last digit
            "n": np.arange(500, dtype="int32"),
            "c": ["a", "b"] * 250,
        }
    )
    first, again = parity_sample(frame, 100), parity_sample(frame, 100)
    assert first == again and first is not None and len(first["data"]) == 100
    assert first["index"] == sorted(first["index"]) and first["training_rows"] == 500
    back = sample_input(first)
    pd.testing.assert_frame_equal(back, frame.loc[first["index"]])  # same rows, values and dtypes
    assert parity_sample(frame, 0) is None
    assert len(parity_sample(frame.head(7), 100)["data"]) == 7  # type: ignore[index]
    assert parity_sample(frame[["x"]].to_numpy(), 3)["format"] == "inputs"  # type: ignore[index]


def test_a_model_that_differs_only_on_training_rows_fails_naming_the_baseline_rows(gov_mlops, iris) -> None:
    X, _ = iris
    assert (X.head(5)["petal_length"] < 2.5).all() and (X["petal_length"] >= 2.5).sum() > 50
    version = gov_mlops.register(NoisyOnLargePetals(), "gov-noisy", X)
    tags = gov_mlops.registry.version("gov-noisy", version.version).tags
    assert tags["mlops.data.parity_sample"] == f"{PARITY_SAMPLE_ARTIFACT} (100 rows)"
    assert gov_mlops.card("gov-noisy", "1").datasets["data.parity_sample"].endswith("(100 rows)")  # on the card
    stored = gov_mlops.registry.read_run_json(version.run_id, PARITY_SAMPLE_ARTIFACT)
    assert stored is not None and len(stored["data"]) == 100

    with pytest.raises(DeploymentFailed) as failure:
        gov_mlops.deploy("gov-noisy/1", "gov-noisy")
    gov_mlops.undeploy("gov-noisy")

    message = failure.value.message
    assert "warming" in message and "on the baseline rows" in message and "on the input example" not in message
    shown = int(message.split("(baseline row ")[1].split(":")[0])
    assert X.loc[shown, "petal_length"] >= 2.5  # the row it names is a real training row with a large petal


def test_a_deterministic_model_passes_the_gate_on_the_example_and_the_baseline_rows(
    gov_mlops, trained_model, iris
) -> None:
    X, y = iris
    # A version of its own: a serving worker checks each version once, and test_lineage_links deploys iris/1
    # earlier in this package's daemon (the warming step then says "passed when first loaded").
    version = gov_mlops.register(trained_model, "gov-parity-ok", X, y)
    deployment = gov_mlops.deploy(f"gov-parity-ok/{version.version}", "gov-parity-ok")
    try:
        warming = next(s for s in deployment.steps if s.name == "warming")
        assert "parity with in-process predictions: ok (input example, 100 baseline rows)" in (warming.message or "")
    finally:
        gov_mlops.undeploy("gov-parity-ok")


def test_without_a_sample_the_gate_checks_the_input_example_only(gov_mlops, gov_config, trained_model, iris) -> None:
    from jupyter_mlops.core.service import MLOps

    X, y = iris
    no_sample = MLOps(
        MLOpsConfig(data_dir=gov_config.data_dir, parity_sample_rows=0),
        user="tester",
        registry=gov_mlops.registry,
        store=gov_mlops.store,
        targets=gov_mlops.targets,
    )
    version = no_sample.register(trained_model, "gov-no-sample", X, y)
    assert gov_mlops.registry.read_run_json(version.run_id, PARITY_SAMPLE_ARTIFACT) is None
    deployment = no_sample.deploy("gov-no-sample/1", "gov-no-sample")
    try:
        warming = next(s for s in deployment.steps if s.name == "warming")
        assert (warming.message or "").endswith("parity with in-process predictions: ok (input example)")
    finally:
        no_sample.undeploy("gov-no-sample")
