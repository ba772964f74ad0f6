"""Monitoring: reports, feedback, alerts and health of deployments, computed from the durable inference log.

``MLOps`` owns one ``Monitoring`` and delegates its ``monitor``/``feedback``/``alerts``/``health`` methods here.
Nothing here runs on the serving path: the daemon only enqueues records, and everything is computed on read.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from ..deployments import rollout
from ..errors import InvalidRequest, MLOpsError, NotFound
from ..models import Deployment, ModelVersion
from . import alerts as alert_rules
from . import baseline as baselines
from . import estimation as estimations
from . import health as health_score
from . import labels
from . import multivariate as mv
from . import quality as data_quality
from .drift import DriftAccumulator, DriftSettings, streamed_dataset_drift
from .labels import PREDICTION, check_label, is_number_text, join_labels
from .metrics import bucket_seconds, iso, ops_series, ops_summary, parse_window, performance_series
from .models import MonitoringReportData
from .reference import load_reference
from .report import MonitoringReport
from .scheduler import AlertScheduler
from .storage import INPUT_PREFIX, MonitoringStore, numeric_block

if TYPE_CHECKING:
    from ...config import MLOpsConfig
    from ..registry import Registry
    from ..store import Store


class DeploymentSource(Protocol):
    """What monitoring reads of the facade: settings, the stores, the registry, and deployments with their state.

    The embedded ``MLOps`` is one (monitoring gets its owner's facade, so reads are never refused).
    """

    config: MLOpsConfig
    store: Store
    registry: Registry

    def deployment(self, name: str) -> Deployment:
        """One deployment with its runtime state (NotFound if there is none)."""
        ...

    def deployments(self) -> list[Deployment]:
        """Every deployment with its runtime state."""
        ...


log = logging.getLogger(__name__)

MAX_FEEDBACK_ITEMS = 10_000
MLFLOW_LOG_INTERVAL = 60.0  # seconds between two metric points of one deployment in its MLflow monitoring run
BASELINE_MAX_ROWS = 100_000
ESTIMATION_MAX_ROWS = 20_000  # live rows estimated per window (a seeded uniform sample beyond)
POLL_INTERVAL = 5.0  # alerts/health polled more often than this reuse the last rule evaluation


class Monitoring:
    """Monitoring of the deployments of one ``MLOps`` facade."""

    def __init__(self, mlops: DeploymentSource, drift: DriftSettings | None = None) -> None:
        self.mlops = mlops
        self.config = mlops.config
        self.store = MonitoringStore(mlops.store.engine)
        self.drift_settings = drift or DriftSettings()
        self._baselines: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._pca: dict[tuple[str, str], mv.ReferencePCA | None] = {}
        self._last_logged: dict[str, float] = {}
        self._last_evaluated: dict[str, float] = {}
        self._background: list[threading.Thread] = []
        self._health_cache: dict[tuple[str, float, str], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._evaluating = threading.Lock()

    # --- baselines --------------------------------------------------------------------------------------------

    def record_baseline(self, version: ModelVersion, model: Any, X: Any) -> dict[str, Any] | None:
        """Profile the training data (and the model's predictions on it) into the version's run as an artifact.

        Large training sets are profiled on a seeded sample of 100,000 rows. A failure is logged, never raised:
        a registration must not fail because its monitoring baseline could not be computed.
        """
        if X is None or not version.run_id:
            return None
        try:
            frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
            if len(frame) > BASELINE_MAX_ROWS:
                frame = frame.sample(BASELINE_MAX_ROWS, random_state=0)
            predictions = labels.predictions(model, frame)
            profile = baselines.build_profile(frame, predictions)
            reference = mv.reference_rows(frame, profile)  # rows, not per-feature samples: multivariate drift
            if reference is not None:
                profile["reference"] = reference
            self.mlops.registry.log_run_json(version.run_id, baselines.BASELINE_ARTIFACT, profile)
            self.mlops.registry.set_version_tags(
                version.name, version.version, {"mlops.baseline": baselines.BASELINE_ARTIFACT}
            )
        except Exception as exc:
            log.warning("No monitoring baseline for %s/%s: %s", version.name, version.version, exc)
            return None
        with self._lock:
            self._baselines[(version.name, version.version)] = profile
        return profile

    def baseline(self, model_name: str, version: str) -> dict[str, Any] | None:
        """The training baseline of a model version (read once from MLflow, then cached)."""
        key = (model_name, version)
        with self._lock:
            if key in self._baselines:
                return self._baselines[key]
        mv = self.mlops.registry.version(model_name, version, detail=False)
        profile = self.mlops.registry.read_run_json(mv.run_id, baselines.BASELINE_ARTIFACT) if mv.run_id else None
        with self._lock:
            self._baselines[key] = profile
        return profile

    # --- reports ----------------------------------------------------------------------------------------------

    def report(
        self, name: str, window: str | float = "1h", *, end: float | None = None, evaluate_alerts: bool = True
    ) -> MonitoringReport:
        """Ops, drift, performance, health and alerts of one deployment over the last ``window``."""
        deployment = self.mlops.deployment(name)
        seconds = parse_window(window)
        end = time.time() if end is None else float(end)
        start = end - seconds
        if evaluate_alerts:
            self.evaluate(deployment)
        snap = self._snapshot(
            deployment, start, end, drift=True, performance=True, series=True, estimation=True, quality=True
        )
        firing = self.store.firing(deployment.name)
        estimated: estimations.Estimation = snap["estimation"]
        data = {
            "deployment": deployment.name,
            "window": window if isinstance(window, str) else f"{int(seconds)}s",
            "start": iso(start),
            "end": iso(end),
            "model": deployment.model_uri,
            "summary": snap["summary"],
            "ops": snap["ops"],
            "drift": snap["drift"],
            "performance": snap["performance"],
            "performance_summary": snap["performance_summary"],
            "health": health_score.score(
                self._components(deployment, snap), firing_alerts=len(firing), unknown_without_data=True
            ),
            "alerts": [_alert_view(a) for a in self.store.alerts(deployment.name, limit=50)],
            "dropped_records": self.store.dropped(deployment.name),
            "estimated_performance": estimated.points,
            "estimation": estimated.status(),
            "multivariate_drift": snap["multivariate_drift"],
            "data_quality": snap["data_quality"],
        }
        report = MonitoringReport(MonitoringReportData.model_validate(data))
        self._maybe_log_to_mlflow(deployment, report)
        return report

    def _snapshot(
        self,
        deployment: Deployment,
        start: float,
        end: float,
        *,
        drift: bool,
        performance: bool,
        series: bool,
        estimation: bool = False,
        quality: bool = False,
    ) -> dict[str, Any]:
        seconds = end - start
        step = bucket_seconds(seconds)
        requests = self.store.requests(deployment.name, start, end)
        snap: dict[str, Any] = {
            "summary": ops_summary(requests, seconds),
            "ops": ops_series(requests, start, step) if series else [],
            "drift": None,
            "performance": [],
            "performance_summary": {},
            "estimation": None,
        }
        if estimation:
            snap["estimation"] = self.estimate(deployment, start, end, step)
        if drift and quality:  # one pass over the stored batches for both
            checks = self._data_checks(deployment, start, end, step, drift=True)
            snap["drift"] = checks.pop("drift")
            snap.update(checks)
        elif drift:
            snap["drift"] = self._drift(deployment, start, end)
        elif quality:
            snap.update(self._data_checks(deployment, start, end, step))
        if performance:
            snap["performance"], snap["performance_summary"] = self._performance(deployment, start, end, step)
        return snap

    def reference_pca(self, model_name: str, version: str) -> mv.ReferencePCA | None:
        """The PCA of a version's reference rows that multivariate drift uses (fitted once, then cached)."""
        key = (model_name, version)
        with self._lock:
            if key in self._pca:
                return self._pca[key]
        held_out = load_reference(self.mlops.registry, model_name, version)  # the labelled set, when registered
        reference = mv.reference_frame(self.baseline(model_name, version), held_out.features if held_out else None)
        model = mv.fit(reference) if reference is not None else None
        with self._lock:
            self._pca[key] = model
        return model

    def _data_checks(
        self, deployment: Deployment, start: float, end: float, step: float, *, drift: bool = False
    ) -> dict[str, Any]:
        """Multivariate drift and data quality (and with ``drift`` the drift report) in one pass over the window."""
        profile = self.baseline(deployment.model_name, deployment.model_version)
        if profile is None:
            checks = window_checks(self.store, deployment.name, None, None, start, end, step)
            return {**checks, "drift": self._drift(deployment, start, end)} if drift else checks
        pca = self.reference_pca(deployment.model_name, deployment.model_version)
        accumulator = None
        if drift:
            rows = self.store.window_rows(deployment.name, start, end)
            settings = self.drift_settings_of(deployment.name)
            accumulator = DriftAccumulator(profile, rows, settings, input_prefix=INPUT_PREFIX, output=PREDICTION)
        checks = window_checks(self.store, deployment.name, profile, pca, start, end, step, drift=accumulator)
        if accumulator is not None:
            checks["drift"] = accumulator.result()
            if not accumulator.rows:
                checks["drift"]["message"] = "No logged inputs in this window yet."
        return checks

    def drift_settings_of(self, name: str) -> DriftSettings:
        """The drift settings of deployment ``name``: its own monitoring settings over the service's defaults."""
        try:
            return rollout.config_of(self.mlops.store, name).monitoring.drift_settings(self.drift_settings)
        except NotFound:
            return self.drift_settings

    def _drift(self, deployment: Deployment, start: float, end: float) -> dict[str, Any]:
        profile = self.baseline(deployment.model_name, deployment.model_version)
        if profile is None:
            return {
                "share": 0.0,
                "drifted": False,
                "rows": 0,
                "features": [],
                "prediction": None,
                "message": f"No training baseline for {deployment.model_uri}: register it with X to monitor drift.",
            }
        settings = self.drift_settings_of(deployment.name)
        # Streamed from the stored batches: the same report as dataset_drift over store.data(), without the
        # window as one frame (a wide log of 100,000 rows would be gigabytes of pandas).
        rows = self.store.window_rows(deployment.name, start, end)
        tables = self.store.tables(deployment.name, start, end)
        result = streamed_dataset_drift(profile, tables, rows, settings, input_prefix=INPUT_PREFIX, output=PREDICTION)
        if not rows:
            result["message"] = "No logged inputs in this window yet."
        return result

    def _performance(
        self, deployment: Deployment, start: float, end: float, step: float
    ) -> tuple[list[dict[str, Any]], dict[str, float]]:
        labels = self.store.feedback(deployment.name, start, end)
        if not labels:
            return [], {}
        rows = self.store.rows_of(labels)
        if rows.empty or PREDICTION not in rows.columns:
            return [], {}
        joined = join_labels(rows, labels)
        return performance_series(joined, start, step)

    def estimate(self, deployment: Deployment, start: float, end: float, step: float) -> estimations.Estimation:
        """Performance of the deployed version estimated without labels over ``[start, end)`` (CBPE or DLE).

        Calibrated on the version's labelled reference set, never on training rows; without a reference, or for a
        model that gives no scores, the estimation is unavailable with the reason, never a number.
        """
        uri = deployment.model_uri
        try:
            reference = load_reference(self.mlops.registry, deployment.model_name, deployment.model_version)
        except MLOpsError as exc:
            return estimations.unavailable(f"The reference set of {uri} could not be read: {exc.message}")
        if reference is None:
            return estimations.unavailable(
                f"Estimates are unavailable: {uri} has no labelled reference set. Register the version with "
                "reference=(X_ref, y_ref), held-out rows with their labels, to estimate performance without labels "
                "(training rows are never used: the model has seen them)."
            )
        try:
            model, flavor = estimations.load_model(self.mlops.registry, deployment.model_name, deployment.model_version)
        except Exception as exc:  # a model the monitor cannot load gives no estimate, not a broken report
            log.warning("Model %s not loaded for estimation: %s", uri, exc)
            return estimations.unavailable(f"The model {uri} could not be loaded to score the logged inputs: {exc}")
        estimator = estimations.estimator_for(model, flavor, reference, uri)
        if isinstance(estimator, str):
            return estimations.unavailable(estimator)
        columns = list(reference.features.columns)
        live = _features(self.store.data(deployment.name, start, end, sample=ESTIMATION_MAX_ROWS), reference.features)
        if isinstance(live, str):
            return estimations.unavailable(live)
        labelled = None
        feedback = self.store.feedback(deployment.name, start, end)
        if feedback:
            rows = estimations.rows_with_labels(self.store.rows_of(feedback), feedback)
            found = _features(rows, reference.features)
            labelled = None if isinstance(found, str) else found.assign(label=rows["label"].to_numpy())
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # OpenMP threads on a shared host slow scoring down rather than up
            return estimations.estimate_window(estimator, live, labelled, columns, start=start, step=step, iso=iso)

    def _components(self, deployment: Deployment, snap: dict[str, Any]) -> dict[str, float | None]:
        estimated = snap.get("estimation")
        return health_score.components(
            state=deployment.state.value,
            ops=snap["summary"],
            drift=snap["drift"],
            performance=snap["performance_summary"],
            estimated=estimated.estimates() if estimated is not None else None,
            latency_objective_ms=float(self.config.latency_objective_ms),
            error_budget=_ERROR_BUDGET,
        )

    # --- feedback ---------------------------------------------------------------------------------------------

    def feedback(self, name: str, request_ids: Any, labels: Any, *, actor: str | None = None) -> dict[str, Any]:
        """Store ground-truth labels of logged requests; all are checked before any is written.

        ``labels[i]`` is the label of ``request_ids[i]``: a scalar, or a list with one label per row of a
        multi-row request. Unknown request ids, labels of the wrong type or count: InvalidRequest, nothing stored.
        """
        deployment = self.mlops.store.get_deployment(name)
        if isinstance(request_ids, str):
            request_ids, labels = [request_ids], [labels]
        if not isinstance(request_ids, Sequence) or not isinstance(labels, Sequence) or isinstance(labels, str):
            raise InvalidRequest("Give request_ids and labels as two lists of the same length.")
        if len(request_ids) != len(labels):
            raise InvalidRequest(f"{len(request_ids)} request ids but {len(labels)} labels: give one label per id.")
        if not request_ids:
            raise InvalidRequest("No feedback given: send at least one request id with its label.")
        if len(request_ids) > MAX_FEEDBACK_ITEMS:
            raise InvalidRequest(f"At most {MAX_FEEDBACK_ITEMS} labels per call; split the feedback.")
        if not all(isinstance(r, str) and 0 < len(r) <= 64 for r in request_ids):
            raise InvalidRequest("Request ids are the strings from the X-MLOps-Request-Id response header.")
        if len(set(request_ids)) != len(request_ids):
            raise InvalidRequest("A request id appears twice in this feedback; give each request one label.")
        known = self.store.known_requests(deployment.name, request_ids)
        unknown = [r for r in request_ids if r not in known]
        if unknown:
            shown = ", ".join(repr(u[:64]) for u in unknown[:3]) + (" ..." if len(unknown) > 3 else "")
            raise InvalidRequest(
                f"{len(unknown)} request id(s) are not in the inference log of {deployment.name!r}: {shown}. "
                "Use the X-MLOps-Request-Id header of the response; the log is written within about a second."
            )
        kind = self._prediction_kind(deployment)
        for rid, label in zip(request_ids, labels, strict=True):
            check_label(rid, label, known[rid], kind)
        accepted = self.store.save_feedback(
            deployment.name, dict(zip(request_ids, labels, strict=True)), time.time(), actor
        )
        return {"deployment": deployment.name, "accepted": accepted}

    def _prediction_kind(self, deployment: Deployment) -> str | None:
        """'numeric' for a regressor, 'categorical' for a classifier (from the baseline), None when unknown."""
        try:
            profile = self.baseline(deployment.model_name, deployment.model_version)
        except MLOpsError:
            return None
        prediction = (profile or {}).get("prediction") or {}
        kind = prediction.get("type")
        if kind == "categorical":
            categories = list(prediction.get("frequencies", {}))
            if categories and all(is_number_text(c) for c in categories):
                return "categorical-number"
        return str(kind) if kind else None

    # --- alerts -----------------------------------------------------------------------------------------------

    def rules(self, name: str) -> list[dict[str, Any]]:
        """The deployment's alert rules: its own, plus the defaults it does not override."""
        own = self.store.rules(name)
        names = {r["name"] for r in own}
        defaults = alert_rules.default_rules(float(self.config.latency_objective_ms), _ERROR_BUDGET)
        share = self.drift_settings_of(name).drift_share  # the data-drift alert fires when the dataset drifts
        defaults = [{**r, "threshold": share} if r["name"] == "data-drift" else r for r in defaults]
        return own + [{**r, "webhook": None} for r in defaults if r["name"] not in names]

    def set_rules(self, name: str, rules: Any) -> list[dict[str, Any]]:
        """Replace a deployment's own alert rules (each checked); returns them with the defaults."""
        deployment = self.mlops.store.get_deployment(name)
        if not isinstance(rules, list):
            raise InvalidRequest("Alert rules must be a list of objects.")
        checked = [alert_rules.validate_rule(r, allow_private=self.config.allow_private_webhooks) for r in rules]
        if len({r["name"] for r in checked}) != len(checked):
            raise InvalidRequest("Alert rule names must be unique per deployment.")
        self.store.replace_rules(deployment.name, checked)
        return self.rules(deployment.name)

    def evaluate(
        self, deployment: Deployment, now: float | None = None, *, min_interval: float = 0.0
    ) -> list[dict[str, Any]]:
        """Evaluate the deployment's rules: fire new alerts (record, webhook), resolve cleared ones.

        ``min_interval`` skips the evaluation when the last one is more recent (for pollers such as the sidebar).
        """
        now = time.time() if now is None else now
        fired: list[dict[str, Any]] = []
        with self._evaluating:
            if now - self._last_evaluated.get(deployment.name, 0.0) < min_interval:
                return fired
            self._last_evaluated[deployment.name] = now
            firing = self.store.firing(deployment.name)
            rules = self.rules(deployment.name)
            needs: dict[int, tuple[bool, bool, bool, bool]] = {}
            for rule in rules:
                drift, perf, estimated, quality = needs.get(int(rule["window_seconds"]), (False, False, False, False))
                needs[int(rule["window_seconds"])] = (
                    drift or rule["metric"] in _DRIFT_METRICS,
                    perf or rule["metric"] in _PERFORMANCE_METRICS,
                    estimated or rule["metric"].startswith(estimations.ESTIMATED_PREFIX),
                    quality or rule["metric"] in _DATA_METRICS,
                )
            snapshots = {
                window: self._snapshot(
                    deployment, now - window, now, drift=d, performance=p, series=False, estimation=e, quality=q
                )
                for window, (d, p, e, q) in needs.items()
            }
            for rule in rules:
                metric = rule["metric"]
                snap = snapshots[int(rule["window_seconds"])]
                value = self._metric(metric, snap, deployment)
                condition = alert_rules.holds(rule, value)
                current = firing.get(rule["name"])
                if condition and current is None:
                    alert = self._fire(deployment, rule, float(value), now)  # type: ignore[arg-type]
                    if alert is not None:  # None: another evaluator (the daemon's scheduler) recorded it first
                        fired.append(alert)
                elif condition is False and current is not None:
                    self.store.resolve(int(current["id"]), now)
            for rule_name, current in firing.items():  # the rule was removed: its alert cannot clear otherwise
                if rule_name not in {r["name"] for r in rules}:
                    self.store.resolve(int(current["id"]), now)
        return fired

    def _metric(self, metric: str, snap: dict[str, Any], deployment: Deployment) -> float | None:
        summary = snap["summary"]
        if metric in summary:
            value = summary[metric]
            # Ops metrics over no traffic say nothing (a 0 % error rate of nothing is not health).
            return None if not summary["requests"] and metric != "requests" else value
        if metric == "dropped_records":
            return float(self.store.dropped(deployment.name))
        if metric in data_quality.QUALITY_METRICS:
            value = (snap.get("quality_metrics") or {}).get(metric)
            return None if value is None else float(value)
        if metric == "multivariate_drift":  # 1 when a bucket of the window left the reference's band
            points = snap.get("multivariate_drift") or []
            return float(any(p["drifted"] for p in points)) if points else None
        drift = snap.get("drift") or {}
        if metric == "drift_share":
            evaluated = [f for f in drift.get("features", []) if f.get("value") is not None]
            return float(drift["share"]) if evaluated else None
        if metric == "prediction_drift":
            prediction = drift.get("prediction")
            if not prediction or prediction.get("value") is None:
                return None
            return 1.0 if prediction["drifted"] else 0.0
        if metric.startswith(estimations.ESTIMATED_PREFIX):  # an unavailable estimate never fires
            estimated = snap.get("estimation")
            if estimated is None or not estimated.available:
                return None
            found = estimated.summary.get(metric[len(estimations.ESTIMATED_PREFIX) :]) or {}
            return None if found.get("estimate") is None else float(found["estimate"])
        value = (snap.get("performance_summary") or {}).get(metric)
        return None if value is None else float(value)

    def _fire(self, deployment: Deployment, rule: dict[str, Any], value: float, now: float) -> dict[str, Any] | None:
        window = f"{int(rule['window_seconds'])}s"
        message = (
            f"{deployment.name}: {rule['metric']} = {value:.4g} {rule['op']} {rule['threshold']:g} "
            f"over the last {window} (rule {rule['name']})."
        )
        alert = {
            "deployment": deployment.name,
            "rule": rule["name"],
            "metric": rule["metric"],
            "value": value,
            "threshold": float(rule["threshold"]),
            "state": "firing",
            "fired_at": now,
            "message": message,
        }
        alert_id = self.store.fire(alert)
        if alert_id is None:
            return None
        view = _alert_view({**alert, "id": alert_id})
        log.warning("Alert fired: %s", message)
        url = rule.get("webhook") or self.config.alert_webhook_url
        if url:
            thread = alert_rules.deliver(
                url,
                view,
                allow_private=self.config.allow_private_webhooks,
                on_done=lambda outcome: self.store.set_delivery(alert_id, outcome),
            )
            with self._lock:
                self._background.append(thread)
        return view

    def acknowledge(self, alert_id: int, actor: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Mark an alert as seen by ``actor``; returns the alert before and after (for the audit ledger)."""
        before = self.store.alert(alert_id)
        if before is None:
            raise NotFound(f"No alert with id {alert_id}. List alerts with GET /mlops/api/alerts or alerts().")
        self.store.acknowledge(alert_id, actor, time.time())
        after = self.store.alert(alert_id)
        assert after is not None
        return _alert_view(before), _alert_view(after)

    def alerts(self, name: str | None = None, *, evaluate: bool = True) -> list[dict[str, Any]]:
        """Alerts newest first, after evaluating the rules of the deployment (or of every deployment)."""
        if name is not None:
            deployment = self.mlops.deployment(name)
            if evaluate:
                self.evaluate(deployment, min_interval=POLL_INTERVAL)
            return [_alert_view(a) for a in self.store.alerts(deployment.name)]
        if evaluate:
            self.evaluate_all(self.mlops.deployments(), min_interval=POLL_INTERVAL)
        return [_alert_view(a) for a in self.store.alerts()]

    def evaluate_all(self, deployments: Sequence[Deployment] | None = None, *, min_interval: float = 0.0) -> int:
        """Evaluate the rules of every deployment (default: all in the store); returns how many alerts fired."""
        fired = 0
        for deployment in self.mlops.store.list_deployments() if deployments is None else deployments:
            try:
                fired += len(self.evaluate(deployment, min_interval=min_interval))
            except MLOpsError as exc:
                log.warning("alert rules of %s not evaluated: %s", deployment.name, exc.message)
            except Exception:  # one deployment's broken log must not hide every alert
                log.exception("alert rules of %s not evaluated", deployment.name)
        return fired

    # --- health -----------------------------------------------------------------------------------------------

    def health(self, name: str | None = None, window: str | float = "1h") -> dict[str, Any]:
        """Health of one deployment (score, colour, components) or of the fleet (with one entry per deployment)."""
        seconds = parse_window(window)
        if name is not None:
            return self._health(self.mlops.deployment(name), seconds)
        items = []
        for deployment in self.mlops.deployments():
            try:
                h = self._health(deployment, seconds)
            except Exception as exc:  # one deployment's broken log must not hide the fleet
                log.exception("Health of %s not computed", deployment.name)
                h = {"score": 0.0, "colour": "red", "error": type(exc).__name__}
            items.append({"name": deployment.name, "score": h["score"], "colour": h["colour"]})
        return health_score.fleet(items)

    def _health(self, deployment: Deployment, seconds: float) -> dict[str, Any]:
        now = time.time()
        key = (deployment.name, seconds, deployment.state.value)
        with self._lock:
            cached = self._health_cache.get(key)
        if cached is not None and now - cached[0] < POLL_INTERVAL:  # pollers (the sidebar) reuse a fresh result
            return cached[1]
        result = self._compute_health(deployment, seconds, now)
        with self._lock:
            self._health_cache[key] = (now, result)
        return result

    def _compute_health(self, deployment: Deployment, seconds: float, now: float) -> dict[str, Any]:
        self.evaluate(deployment, now, min_interval=POLL_INTERVAL)
        snap = self._snapshot(
            deployment, now - seconds, now, drift=True, performance=True, series=False, estimation=True
        )
        firing = self.store.firing(deployment.name)
        return {
            "deployment": deployment.name,
            **health_score.score(
                self._components(deployment, snap), firing_alerts=len(firing), unknown_without_data=True
            ),
        }

    def summary(self, model_name: str, version: str) -> dict[str, Any] | None:
        """For model cards: health of the deployments serving this version, and whether it has a baseline."""
        serving = [
            d
            for d in self.mlops.store.list_deployments()
            if any(v.model_name == model_name and v.model_version == version for v in d.variants)
        ]
        return {
            "baseline": self.baseline(model_name, version) is not None,
            "deployments": [{"name": d.name, **self.health(d.name)} for d in serving],
        }

    # --- MLflow history ---------------------------------------------------------------------------------------

    def _maybe_log_to_mlflow(self, deployment: Deployment, report: MonitoringReport) -> None:
        now = time.time()
        with self._lock:
            if now - self._last_logged.get(deployment.name, 0.0) < MLFLOW_LOG_INTERVAL:
                return
            self._last_logged[deployment.name] = now
        thread = threading.Thread(
            target=self._log_quietly, args=(deployment, report), name="mlops-monitoring-mlflow", daemon=True
        )
        with self._lock:
            self._background = [t for t in self._background if t.is_alive()] + [thread]
        thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Wait for background work (MLflow history, webhooks) to finish."""
        with self._lock:
            pending, self._background = self._background, []
        for thread in pending:
            thread.join(timeout)

    def _log_quietly(self, deployment: Deployment, report: MonitoringReport) -> None:
        try:
            self.log_to_mlflow(deployment, report)
        except Exception as exc:  # the history is best effort; the report itself was served
            log.warning("Monitoring metrics of %s not logged to MLflow: %s", deployment.name, exc)

    def log_to_mlflow(self, deployment: Deployment, report: MonitoringReport) -> str:
        """Log a report's headline metrics to the monitoring run linked to the deployed model version."""
        run_id = self.mlops.registry.monitoring_run(deployment.model_name, deployment.model_version, deployment.name)
        metrics = {k: v for k, v in report.summary.items() if isinstance(v, (int, float)) and v is not None}
        metrics["drift_share"] = report.drift_share
        if report.health.score is not None:
            metrics["health_score"] = float(report.health.score)
        metrics.update({k: float(v) for k, v in report.data["performance_summary"].items()})
        estimation = report.estimation
        if estimation.available:
            metrics.update({f"{estimations.ESTIMATED_PREFIX}{k}": v.estimate for k, v in estimation.summary.items()})
        self.mlops.registry.log_run_metrics(run_id, metrics, int(time.time() * 1000))
        return run_id


_ERROR_BUDGET = 0.05


def window_checks(
    store: MonitoringStore,
    deployment: str,
    profile: dict[str, Any] | None,
    pca: mv.ReferencePCA | None,
    start: float,
    end: float,
    step: float,
    *,
    drift: DriftAccumulator | None = None,
) -> dict[str, Any]:
    """Multivariate drift and data quality of a window (and the drift report), each batch decoded once for all."""
    if profile is None:
        return {
            "multivariate_drift": [],
            "data_quality": [],
            "quality_metrics": dict.fromkeys(data_quality.QUALITY_METRICS),
        }
    quality = data_quality.QualityAccumulator(profile, start, step)
    assert drift is None or drift.numeric_columns == quality.columns  # the same numeric features, same order
    multivariate = mv.MultivariateAccumulator(pca, start, step) if pca is not None else None
    index = {name: i for i, name in enumerate(quality.numeric)}
    rows = [index[f] for f in pca.features if f in index] if pca is not None else []
    aligned = pca is not None and len(rows) == len(pca.features)
    every = aligned and rows == list(range(len(quality.numeric)))  # the PCA's features are the block's rows
    with mv.one_blas_thread():
        for table in store.tables(deployment, start, end):
            block, mismatches = numeric_block(table, quality.columns)
            quality.add(table, block, mismatches)
            if drift is not None:
                drift.add(table, block)
            if multivariate is not None:
                multivariate.add(table, block if every else block[rows] if aligned else None)
    return {
        "multivariate_drift": multivariate.result() if multivariate is not None else [],
        "data_quality": quality.result(),
        "quality_metrics": quality.window_metrics(),
    }


_DRIFT_METRICS = {"drift_share", "prediction_drift"}
_PERFORMANCE_METRICS = {"accuracy", "f1", "roc_auc", "rmse", "mae"}
_DATA_METRICS = {*data_quality.QUALITY_METRICS, "multivariate_drift"}


def _features(rows: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame | str:
    """Logged rows' inputs under the reference's column names and types (with ``time``), or why they do not fit."""
    columns = list(reference.columns)
    if rows.empty:
        return pd.DataFrame(columns=["time", *columns])
    found = {c[len(INPUT_PREFIX) :]: c for c in rows.columns if str(c).startswith(INPUT_PREFIX)}
    missing = [c for c in columns if c not in found]
    if missing:
        return (
            f"The logged inputs lack the reference columns {missing[:10]}: the deployment's requests do not carry "
            "the features the model was registered with, so they cannot be scored for estimation."
        )
    frame = pd.DataFrame({c: rows[found[c]].to_numpy() for c in columns})
    for column in columns:
        dtype = reference[column].dtype
        if frame[column].dtype != dtype:
            with contextlib.suppress(TypeError, ValueError):  # keep the logged type; the model says if it scores it
                frame[column] = frame[column].astype(dtype)
    frame.insert(0, "time", rows["time"].to_numpy(dtype=float))
    return frame


def _alert_view(alert: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(alert["id"]),
        "deployment": alert["deployment"],
        "rule": alert["rule"],
        "metric": alert["metric"],
        "value": alert["value"],
        "threshold": alert["threshold"],
        "state": alert["state"],
        "fired_at": iso(float(alert["fired_at"])),
        "resolved_at": iso(float(alert["resolved_at"])) if alert.get("resolved_at") else None,
        "message": alert["message"],
        "delivery": alert.get("delivery"),
        "acknowledged_by": alert.get("acknowledged_by"),
        "acknowledged_at": iso(float(alert["acknowledged_at"])) if alert.get("acknowledged_at") else None,
    }


__all__ = ["PREDICTION", "AlertScheduler", "Monitoring", "MonitoringReport"]
