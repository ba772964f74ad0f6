"""The model card's monitoring section: the health of the deployments serving the version, and its baseline."""

from __future__ import annotations

import numpy as np

from .conftest import make_rows


def test_the_card_shows_the_health_of_each_deployment_serving_the_version(monitored) -> None:
    mlops, name = monitored.mlops, "card-monitoring"
    # Given a version serving a deployment of its own, with traffic whose two features drifted
    mlops.deploy("shop-model/1", name)
    try:
        monitored.send(make_rows(np.random.default_rng(21), 1500, shift={"c": 3.0, "d": -3.0}), to=name)
        health = mlops.health(name)
        # When its card is built
        card = mlops.card("shop-model", "1")
        # Then the monitoring section has the baseline and that deployment with the health monitoring reports
        section = card.monitoring
        assert section is not None and section["baseline"] is True
        row = next(d for d in section["deployments"] if d["name"] == name)
        assert (row["colour"], row["score"]) == (health["colour"], health["score"])
        assert health["colour"] != "green" and row["components"]["drift"] == 0.0
        # ... and the card's Markdown shows it
        monitoring_md = card.markdown.split("## Monitoring", 1)[1]
        assert name in monitoring_md and "_No monitoring summary._" not in monitoring_md
    finally:
        mlops.undeploy(name)
    # And a version that serves nowhere lists no deployment
    assert all(d["name"] != name for d in mlops.card("shop-model", "1").monitoring["deployments"])


def test_a_version_registered_without_training_data_has_no_baseline(monitored) -> None:
    from sklearn.dummy import DummyClassifier

    X = make_rows(np.random.default_rng(22), 50)
    model = DummyClassifier().fit(X, np.arange(50) % 2)
    version = monitored.mlops.register(model, "shop-no-baseline")  # no X: nothing to measure drift against
    section = monitored.mlops.card("shop-no-baseline", version.version).monitoring
    assert section == {"baseline": False, "deployments": []}
