"""Registering models from a notebook into a real MLflow store (SQLite + local artifacts)."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from jupyter_mlops.core.errors import InvalidRequest, NotFound
from jupyter_mlops.core.models import ModelRef


def test_register_gradient_boosting_just_works(mlops, iris_version, trained_model, iris) -> None:
    """GradientBoosting needs skops trusted types in MLflow 3.17: the user never sees that."""
    X, _ = iris
    assert iris_version.name == "iris"
    assert iris_version.aliases == ["champion"]
    assert iris_version.signature is not None
    assert [c["name"] for c in iris_version.signature["inputs"]] == list(X.columns)
    with mlops.registry.fluent():
        loaded = mlflow.pyfunc.load_model(f"models:/iris/{iris_version.version}")
    assert list(loaded.predict(X.head(10))) == list(trained_model.predict(X.head(10)))


def test_register_records_lineage_params_and_metrics(iris_version) -> None:
    tags = iris_version.tags
    assert tags["mlops.registered_by"] == "tester"
    assert tags["mlops.python"].count(".") == 2
    assert '"mlflow"' in tags["mlops.packages"]
    assert tags["mlops.data.fingerprint"].startswith("sha256:")
    assert tags["mlops.data.rows"] == "150"
    assert iris_version.params["n_estimators"] == "20"
    assert 0.9 < iris_version.metrics["training_score"] <= 1.0


def test_register_is_deterministic_in_fingerprint(mlops, iris) -> None:
    from jupyter_mlops.core import lineage

    X, _ = iris
    assert lineage.data_fingerprint(X) == lineage.data_fingerprint(X.copy())
    assert lineage.data_fingerprint(X) != lineage.data_fingerprint(X.iloc[:-1])


def test_register_a_plain_function_as_pyfunc(mlops) -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [10.0, 20.0, 30.0]})

    def total(frame: pd.DataFrame) -> pd.Series:
        return frame["a"] + frame["b"]

    version = mlops.register(total, "summer", X)
    with mlops.registry.fluent():
        loaded = mlflow.pyfunc.load_model(version.uri)
    assert list(loaded.predict(X)) == [11.0, 22.0, 33.0]


def test_register_a_run_uri_and_new_versions(mlops) -> None:
    X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    model = LinearRegression().fit(X, [1.0, 3.0, 5.0, 7.0])
    first = mlops.register(model, "line", X)
    second = mlops.register(f"runs:/{first.run_id}/model", "line")
    assert (first.version, second.version) == ("1", "2")
    assert second.run_id == first.run_id
    assert [v.version for v in mlops.versions("line")] == ["2", "1"]


def test_aliases_move_and_resolve(mlops) -> None:
    X = pd.DataFrame({"x": [0.0, 1.0]})
    for _ in range(2):
        mlops.register(LinearRegression().fit(X, [0.0, 1.0]), "aliased", X)
    mlops.set_alias("aliased", "champion", 1)
    assert mlops.registry.resolve(ModelRef.parse("aliased@champion")).version == "1"
    mlops.set_alias("aliased", "champion", "2")
    assert mlops.registry.resolve(ModelRef.parse("aliased@champion")).version == "2"
    assert mlops.registry.resolve(ModelRef.parse("aliased")).version == "2"
    mlops.delete_alias("aliased", "champion")
    with pytest.raises(NotFound):
        mlops.registry.resolve(ModelRef.parse("aliased@champion"))


def test_catalog_search_and_details(mlops, iris_version) -> None:
    page = mlops.models("iri")
    assert [m.name for m in page.items] == ["iris"]
    assert page.items[0].aliases == {"champion": iris_version.version}
    detail = mlops.model("iris")
    assert detail.latest_version == iris_version.version
    assert detail.versions[0].metrics["training_score"] > 0.9


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda m: m.model("no-such-model"), NotFound),
        (lambda m: m.version("iris", "99"), NotFound),
        (lambda m: m.register(object(), "obj"), InvalidRequest),
        (lambda m: m.register("s3://bucket/x", "remote"), InvalidRequest),
        (lambda m: m.register(LinearRegression(), "../escape"), InvalidRequest),
        (lambda m: m.set_alias("iris", "latest", 1), InvalidRequest),
        (lambda m: m.models(max_results=0), InvalidRequest),
    ],
)
def test_mistakes_get_clear_errors(mlops, iris_version, call, error) -> None:
    with pytest.raises(error) as err:
        call(mlops)
    assert err.value.message


def test_predicting_on_wrong_features_is_explained(mlops, trained_model) -> None:
    with pytest.raises(InvalidRequest) as err:
        mlops.register(trained_model, "wrong", pd.DataFrame({"only": [1.0]}))
    assert "failed to predict on X" in err.value.message


def test_registering_leaves_mlflow_global_state_as_it_was(mlops, monkeypatch) -> None:
    """A notebook's own MLflow settings (and the environment) are untouched by our use of MLflow's fluent API."""
    import os

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)  # an earlier test may have left it
    before = mlflow.get_tracking_uri()
    X = pd.DataFrame({"x": [0.0, 1.0]})
    mlops.register(LinearRegression().fit(X, [0.0, 1.0]), "leak-check", X)
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert "MLFLOW_REGISTRY_URI" not in os.environ
    assert mlflow.get_tracking_uri() == before
