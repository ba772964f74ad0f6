"""What the team service adds: deploy, predict and register through the hub service vs the embedded facade.

Starts the team installation the team-mode tests check (``tests/hub/team_mode/conftest.running_team_hub``: a real
JupyterHub, the MLOps hub service, PostgreSQL with password logins, MLflow in the service's private folder), then, as
the same user on the same store, MLflow and serving daemon, alternates the embedded facade (the peer: no hub, no
HTTP) and ``RemoteMLOps`` through the hub's proxy (what a team kernel runs):

- deploy ``iris/1`` (an isolated worker per deployment, the service's default in team mode), then ``--predicts``
  predictions of 2 rows, then undeploy; ``--rounds`` times;
- register the same in-memory model ``--rounds`` times (the kernel side saves, packs and uploads it).

Prints medians (ms), the differences and the ratios service/embedded.

    make hub-tools && .venv/bin/python benchmarks/team_mode.py --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(figures: dict[str, list[float]], key: str, call: Callable[[], object]) -> None:
    started = time.perf_counter()
    call()
    figures.setdefault(key, []).append(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--predicts", type=int, default=10)
    args = parser.parse_args()

    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.ensemble import GradientBoostingClassifier

    from jupyter_mlops.config import MLOpsConfig
    from jupyter_mlops.core.principal import Principal
    from jupyter_mlops.core.service import MLOps
    from jupyter_mlops.hub.client import RemoteMLOps
    from tests.hub.team_mode.conftest import running_team_hub
    from tests.team.services import postgres_available

    reason = postgres_available()
    if reason:
        sys.exit(f"PostgreSQL is needed: {reason}")
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    model = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, y)
    rows = pd.DataFrame([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], columns=X.columns)
    figures: dict[str, list[float]] = {}
    with running_team_hub(model, (X, y)) as hub:
        config = MLOpsConfig(
            data_dir=hub.service_config["JUPYTER_MLOPS_DATA_DIR"],
            store_url=hub.service_config["JUPYTER_MLOPS_STORE_URL"],
            isolate_users=True,
            require_deployment_token=True,
            isolate_deployments=True,  # as the service
        )
        admin = Principal(name="erin", scopes=frozenset({"custom:mlops:admin"}))
        facades = {
            "embedded": MLOps(config, principal=admin),
            "service": RemoteMLOps(hub.service_url, token=hub.tokens["erin"]),
        }
        registered = f"bench-reg-{uuid.uuid4().hex[:6]}"
        try:
            for run in range(args.rounds):
                for label, facade in facades.items():
                    name = f"bench-{label[0]}{run}"
                    timed(figures, f"deploy/{label}", lambda f=facade, n=name: f.deploy("iris/1", name=n))
                    for _ in range(args.predicts):
                        timed(figures, f"predict/{label}", lambda f=facade, n=name: f.predict(n, rows))
                    facade.undeploy(name)
                    timed(figures, f"register/{label}", lambda f=facade: f.register(model, registered, X, y))
        finally:
            for facade in facades.values():
                facade.close()
    medians = {key: statistics.median(values) * 1000 for key, values in figures.items()}
    print(f"\nteam mode, {args.rounds} rounds ({args.predicts} predictions of 2 rows each): medians in ms")
    print(f"{'operation':<10} {'embedded':>10} {'service':>10} {'added':>9} {'ratio':>7}")
    for operation in ("deploy", "predict", "register"):
        ours, peer = medians[f"{operation}/service"], medians[f"{operation}/embedded"]
        print(f"{operation:<10} {peer:>10.1f} {ours:>10.1f} {ours - peer:>+9.1f} {ours / peer:>6.2f}x")


if __name__ == "__main__":
    main()
