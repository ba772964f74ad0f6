"""KServe target: manifests checked against the CRD schema and KServe's admission rules, applied and read back
through the real ``kubernetes`` client. The cluster is a FAKE (tests/targets/fake_kubernetes.py): no Kubernetes
can run on this machine."""

from __future__ import annotations

import copy

import pytest

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.errors import DeploymentFailed, InvalidRequest, Unavailable
from jupyter_mlops.core.models import Deployment, DeploymentState, Variant, VariantRole
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.targets.kserve import (
    GENERATION_ANNOTATION,
    KServeSettings,
    KServeTarget,
    admission_errors,
    build_manifest,
    load_crd_schema,
    schema_errors,
)

from .conftest import PVC

pytestmark = pytest.mark.slow


def _deployment(*variants: Variant, name: str = "churn") -> Deployment:
    return Deployment(name=name, model_ref="churn/1", model_name="churn", model_version="1", variants=list(variants))


PRIMARY = Variant(model_name="churn", model_version="1")
CANARY = Variant(name="canary", model_name="churn", model_version="2", weight=20, role=VariantRole.canary)
URIS = {"models:/churn/1": "s3://models/churn/1", "models:/churn/2": "s3://models/churn/2"}


# --- manifests ------------------------------------------------------------------------------------------------


def test_manifest_serves_the_pinned_mlflow_model_with_v2_resources_and_autoscaling(crd_path) -> None:
    settings = KServeSettings(namespace="models", min_replicas=2, max_replicas=5, scale_target=8)
    manifest = build_manifest(_deployment(PRIMARY), URIS, settings, generation=3)
    predictor = manifest["spec"]["predictor"]
    assert manifest["apiVersion"] == "serving.kserve.io/v1beta1" and manifest["kind"] == "InferenceService"
    assert manifest["metadata"]["namespace"] == "models"
    assert manifest["metadata"]["annotations"][GENERATION_ANNOTATION] == "3"
    assert predictor["model"]["modelFormat"] == {"name": "mlflow"}
    assert predictor["model"]["protocolVersion"] == "v2"
    assert predictor["model"]["storageUri"] == "s3://models/churn/1"
    assert predictor["model"]["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    assert (predictor["minReplicas"], predictor["maxReplicas"], predictor["scaleTarget"]) == (2, 5, 8)
    assert "canaryTrafficPercent" not in predictor
    assert schema_errors(manifest, load_crd_schema(crd_path)) == []
    assert admission_errors(manifest) == []


def test_canary_manifest_sends_the_canary_model_with_its_percent(crd_path) -> None:
    manifest = build_manifest(_deployment(PRIMARY, CANARY), URIS, KServeSettings(), generation=1)
    predictor = manifest["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == "s3://models/churn/2"
    assert predictor["canaryTrafficPercent"] == 20
    assert manifest["metadata"]["annotations"]["mlops.jupyter.org/primary-model-uri"] == "models:/churn/1"
    assert schema_errors(manifest, load_crd_schema(crd_path)) == []


def test_shadow_variants_are_refused_with_a_reason() -> None:
    shadow = Variant(name="shadow", model_name="churn", model_version="2", role=VariantRole.shadow)
    with pytest.raises(InvalidRequest, match="shadow"):
        build_manifest(_deployment(PRIMARY, shadow), URIS, KServeSettings(), generation=1)


def test_schema_refuses_typos_and_wrong_types(crd_path) -> None:
    schema = load_crd_schema(crd_path)
    manifest = build_manifest(_deployment(PRIMARY), URIS, KServeSettings(), generation=1)
    typo = copy.deepcopy(manifest)
    typo["spec"]["predictor"]["canaryTraficPercent"] = 10
    assert any("canaryTraficPercent" in e for e in schema_errors(typo, schema))
    wrong = copy.deepcopy(manifest)
    wrong["spec"]["predictor"]["minReplicas"] = "two"
    assert any(e.startswith("spec.predictor.minReplicas") for e in schema_errors(wrong, schema))


def test_admission_rules_the_schema_lacks(crd_path) -> None:
    schema = load_crd_schema(crd_path)
    manifest = build_manifest(_deployment(PRIMARY), URIS, KServeSettings(), generation=1)
    bad = copy.deepcopy(manifest)
    bad["metadata"]["name"] = "Churn_Model"
    bad["spec"]["predictor"]["canaryTrafficPercent"] = 150
    bad["spec"]["predictor"]["minReplicas"], bad["spec"]["predictor"]["maxReplicas"] = 4, 2
    bad["spec"]["predictor"]["model"]["storageUri"] = "file:///home/me/mlruns/1/model"
    # The CRD schema accepts all of these ...
    assert schema_errors(bad, schema) == []
    # ... KServe's admission webhook does not, and neither do we.
    errors = " | ".join(admission_errors(bad))
    assert "metadata.name 'Churn_Model'" in errors
    assert "canaryTrafficPercent must be between 0 and 100, not 150" in errors
    assert "maxReplicas (2) must be >= minReplicas (4)" in errors
    assert "storage_uri_prefixes" in errors
    assert len(admission_errors(bad)) == 4


# --- applied to the (fake) cluster through the facade ---------------------------------------------------------


def test_deploy_predict_update_undeploy_on_kserve(installation, iris, trained_model) -> None:
    mlops, cluster = installation.mlops, installation.cluster
    X, _ = iris
    # When a notebook deploys with target="kserve"
    deployment = mlops.deploy("iris@champion", "iris-ks", target="kserve")
    try:
        assert deployment.state == DeploymentState.ready
        assert deployment.target == "kserve"
        assert deployment.url.startswith(cluster.url + "/ingress/models/iris-ks")
        stored = cluster.objects[("models", "iris-ks")]
        model = stored["spec"]["predictor"]["model"]
        # the InferenceService points at the pinned version's artifacts, through the configured mapping
        assert model["storageUri"].startswith(PVC) and model["storageUri"].endswith("/artifacts")
        assert model["modelFormat"] == {"name": "mlflow"} and model["protocolVersion"] == "v2"

        # Then predictions come back through the V2 protocol as MLflow's scoring answers them
        rows = X.sample(8, random_state=2)
        assert mlops.predict("iris-ks", rows) == trained_model.predict(rows).tolist()
        assert mlops.predict("iris-ks", rows.to_dict(orient="records")) == trained_model.predict(rows).tolist()

        # A replace is a new generation: replaced with resourceVersion, ready again
        before = stored["metadata"]["generation"]
        again = mlops.deploy("iris/1", "iris-ks", target="kserve", replace=True)
        assert again.state == DeploymentState.ready
        assert cluster.objects[("models", "iris-ks")]["metadata"]["generation"] == before + 1
        isvc_path = "/apis/serving.kserve.io/v1beta1/namespaces/models/inferenceservices/iris-ks"
        assert ("PUT", isvc_path) in cluster.requests

        listed = {d.name: d for d in mlops.deployments()}
        assert listed["iris-ks"].state == DeploymentState.ready
    finally:
        assert mlops.undeploy("iris-ks") is True
    assert ("models", "iris-ks") not in cluster.objects
    assert mlops.undeploy("iris-ks") is False


def test_canary_traffic_reaches_the_cluster(installation) -> None:
    mlops, cluster = installation.mlops, installation.cluster
    mlops.deploy("iris/1", "iris-canary", target="kserve")
    try:
        canary = Variant(name="canary", model_name="iris", model_version="1", weight=25, role=VariantRole.canary)
        primary = Variant(model_name="iris", model_version="1", weight=75)
        mlops.store.replace_variants("iris-canary", model_ref="iris/1", variants=[primary, canary])
        target = mlops.target("kserve")
        target.apply("iris-canary")
        status = target.wait_ready("iris-canary", 30)
        assert status.generation == mlops.store.generation("iris-canary")
        assert cluster.objects[("models", "iris-canary")]["spec"]["predictor"]["canaryTrafficPercent"] == 25
    finally:
        mlops.undeploy("iris-canary")


def test_model_load_failure_is_reported_as_failed(installation, tmp_path) -> None:
    mlops = installation.mlops
    # An artifact location the (fake) cluster has not mounted: the predictor cannot load the model.
    config = MLOpsConfig(
        data_dir=installation.config.data_dir,
        targets={},
        target_options={
            "kserve": {
                **installation.config.target_options["kserve"],
                "storage_uri_prefixes": {installation.artifacts.as_uri() + "/": "s3://unmounted/"},
            }
        },
    )
    target = KServeTarget(config, mlops.store)
    mlops.store.create_deployment(
        "iris-broken",
        owner="tester",
        target="kserve",
        model_ref="iris/1",
        variants=[Variant(model_name="iris", model_version="1")],
    )
    try:
        target.apply("iris-broken")
        with pytest.raises(DeploymentFailed, match="not mounted"):
            target.wait_ready("iris-broken", 30)
        assert target.status("iris-broken").steps[1].status.value == "failed"
    finally:
        mlops.store.delete_deployment("iris-broken")
        target.apply("iris-broken")  # desired state gone -> the InferenceService is removed
        target.close()
    assert ("models", "iris-broken") not in installation.cluster.objects


def test_refused_manifest_is_never_sent(installation) -> None:
    mlops, cluster = installation.mlops, installation.cluster
    config = MLOpsConfig(
        data_dir=installation.config.data_dir,
        target_options={"kserve": {**installation.config.target_options["kserve"], "storage_uri_prefixes": {}}},
    )
    target = KServeTarget(config, mlops.store)
    mlops.store.create_deployment(
        "iris-local-files",
        owner="tester",
        target="kserve",
        model_ref="iris/1",
        variants=[Variant(model_name="iris", model_version="1")],
    )
    sent = len(cluster.requests)
    try:
        with pytest.raises(InvalidRequest, match="not readable by KServe"):
            target.apply("iris-local-files")
        assert len(cluster.requests) == sent
    finally:
        mlops.store.delete_deployment("iris-local-files")
        target.close()


def test_unreachable_cluster_is_unavailable_with_advice(tmp_path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        '{"apiVersion": "v1", "kind": "Config", "current-context": "gone",'
        ' "clusters": [{"name": "gone", "cluster": {"server": "http://127.0.0.1:9"}}],'
        ' "users": [{"name": "u", "user": {"token": "t"}}],'
        ' "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}]}'
    )
    store = Store(f"sqlite:///{tmp_path / 'mlops.db'}")
    config = MLOpsConfig(data_dir=str(tmp_path), target_options={"kserve": {"kubeconfig": str(kubeconfig)}})
    target = KServeTarget(config, store)
    try:
        with pytest.raises(Unavailable, match="Cannot reach the Kubernetes API"):
            target.statuses()
    finally:
        target.close()
        store.close()


def test_bad_settings_are_refused(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'mlops.db'}")
    try:
        with pytest.raises(InvalidRequest, match="target_options"):
            KServeTarget(MLOpsConfig(data_dir=str(tmp_path), target_options={"kserve": {"replicas": 3}}), store)
    finally:
        store.close()
