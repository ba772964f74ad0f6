"""Prometheus metrics of the daemon (``GET /metrics``), one registry per app so tests and restarts never clash.

Label sets stay small and bounded: deployment and variant names come from the store (not from requests), and a
request to an unknown deployment is counted under ``deployment="-"``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from . import heap

# Sub-millisecond to seconds: the fast path answers in about a millisecond, large batches take longer.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096)
STAGES = ("parse", "validate", "predict", "serialize")


class ServingMetrics:
    """The daemon's metrics: requests, latency by stage, batch sizes, queue depth, load times."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mlops_requests",
            "Scoring requests by deployment, variant and HTTP status.",
            ("deployment", "variant", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "mlops_request_latency_seconds",
            "End-to-end latency of scoring requests.",
            ("deployment", "variant"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage_latency = Histogram(
            "mlops_stage_latency_seconds",
            "Time spent per stage of a scoring request (parse, validate, predict, serialize).",
            ("deployment", "stage"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "mlops_batch_size_rows",
            "Rows per model call (after micro-batching).",
            ("deployment", "variant"),
            buckets=SIZE_BUCKETS,
            registry=self.registry,
        )
        self.compiled = Counter(
            "mlops_compiled_models",
            "Loaded tree ensembles by what the compiled predictor became: served (it passed the compiled parity "
            "gate) or kept (scikit-learn's predict stays: unsupported, too large, no compiler, or refused).",
            ("outcome",),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "mlops_queue_depth",
            "Scoring requests admitted and not yet answered.",
            ("deployment",),
            registry=self.registry,
        )
        self.shadow_requests = Counter(
            "mlops_shadow_requests",
            "Mirrored requests answered by shadow variants, by status.",
            ("deployment", "variant", "status"),
            registry=self.registry,
        )
        self.load_seconds = Histogram(
            "mlops_model_load_seconds",
            "Time to load and warm a model version.",
            ("deployment", "variant"),
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
            registry=self.registry,
        )
        self.auto_rollbacks = Counter(
            "mlops_auto_rollbacks",
            "Canary variants set to weight 0 by the automatic rollback policy.",
            ("deployment", "variant"),
            registry=self.registry,
        )

        self.refused = Counter(
            "mlops_refused_requests",
            "Requests refused before reaching a deployment (missing or wrong token, unknown Host, unsupported "
            "media type), by status and reason; never counted as a deployment's traffic.",
            ("status", "reason"),
            registry=self.registry,
        )

        self.rebalanced = Gauge(
            "mlops_rebalanced_connections",
            "Keep-alive connections a serving worker closed after a complete response because it held more than "
            "its share of the daemon's connections (the client reconnects to any worker).",
            registry=self.registry,
        )

        self.log_lost = Gauge(
            "mlops_inference_log_lost_records",
            "Records handed to an inference log writer that died before writing them (also counted as the "
            "deployments' dropped_records).",
            registry=self.registry,
        )

        self.evictions = Counter(
            "mlops_model_evictions",
            "Idle deployments unloaded to keep the daemon within its memory budget (least recently used first).",
            ("deployment",),
            registry=self.registry,
        )
        self.reloads = Counter(
            "mlops_model_reloads",
            "Evicted deployments loaded again because a request arrived for them.",
            ("deployment",),
            registry=self.registry,
        )
        self.loaded_bytes = Gauge(
            "mlops_loaded_model_bytes",
            "Estimated memory of the models loaded in the daemon's process (counted against its memory budget).",
            registry=self.registry,
        )
        self.frozen_objects = Gauge(
            "mlops_gc_frozen_objects",
            "Long-lived objects (modules, loaded models) kept out of the garbage collector's full collections, "
            "which would otherwise pause every request in flight (see serving/heap.py).",
            registry=self.registry,
        )
        self.frozen_objects.set_function(lambda: float(heap.frozen()))

    def observe_stages(self, deployment: str, timings: dict[str, float]) -> None:
        for stage, seconds in timings.items():
            self.stage_latency.labels(deployment, stage).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
