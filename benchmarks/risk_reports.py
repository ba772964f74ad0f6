"""Model risk reports at scale: the inventory and the Annex IV documents of 1,000 models (issue 17).

Run: ``.venv/bin/python benchmarks/risk_reports.py [--models 1000] [--repeat 3]``.
Registers the models directly through ``MlflowClient`` (a dummy source: no artifacts) into a temporary SQLite
store, sets inventory fields on each through the real facade (each change audited), records one validation per
model, then prints medians of:

- the inventory as CSV, and as a PDF (ReportLab), of every model;
- the technical documentation (Markdown) of one version of every model, one call each, and as PDF.

Everything is removed at the end.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mlflow import MlflowClient

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.principal import Principal
from jupyter_mlops.core.registry import Registry
from jupyter_mlops.core.service import MLOps


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs, in seconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    """Build the installation, time the reports, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = MLOpsConfig(data_dir=str(Path(tmp) / "data"), roles={"vera": "validator"})
        Registry(config.tracking_uri, config.registry_uri, artifact_root=config.artifact_root).prepare()
        client = MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.registry_uri)
        start = time.perf_counter()
        names = [f"risk-model-{i:04d}" for i in range(args.models)]
        for name in names:
            client.create_registered_model(name, description=f"Benchmark model {name}")
            client.create_model_version(name, source=f"file:///tmp/dummy/{name}")
        mlops = MLOps(config, user="owner")
        vera = mlops.acting_as(Principal(name="vera"))
        tiers = config.risk_tiers
        for i, name in enumerate(names):
            mlops.set_inventory(name, {"purpose": f"Purpose of {name}", "business_owner": "bea",
                                       "technical_owner": "tom", "risk_tier": tiers[i % len(tiers)],
                                       "lifecycle_status": "production"})  # fmt: skip
            vera.validate_version(name, "1", "approved", evidence=["metrics"])
        print(f"setup: {args.models} models, inventory and one validation each in {time.perf_counter() - start:.1f} s")

        csv_s = timed(lambda: mlops.inventory_report(format="csv"), args.repeat)
        pdf_s = timed(lambda: mlops.inventory_report(format="pdf"), args.repeat)
        docs_s = timed(lambda: [mlops.technical_documentation(n, "1") for n in names], 1)
        pdf_docs = names[: min(100, len(names))]
        docs_pdf_s = timed(lambda: [mlops.technical_documentation(n, "1", "pdf") for n in pdf_docs], 1)
        print(f"inventory CSV, {args.models} models:            {csv_s:8.2f} s (median of {args.repeat})")
        print(f"inventory PDF, {args.models} models:            {pdf_s:8.2f} s (median of {args.repeat})")
        print(f"technical documentation (md), {args.models} versions: {docs_s:8.2f} s "
              f"({1000 * docs_s / args.models:.1f} ms each)")  # fmt: skip
        print(f"technical documentation (pdf), {len(pdf_docs)} versions: {docs_pdf_s:8.2f} s "
              f"({1000 * docs_pdf_s / len(pdf_docs):.1f} ms each)")  # fmt: skip
        mlops.close()


if __name__ == "__main__":
    main()
