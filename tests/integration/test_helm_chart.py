"""The Helm chart, rendered by a real helm over the value combinations users will choose.

Every combination passes ``helm lint --strict``; every rendered object validates offline against
Kubernetes' own schemas (``kubernetes-validate --strict``) or, for custom resources, against their
CRD; and the objects say what the values ask for: the restricted pod security profile, probes on
kopf's health port, least-privilege RBAC computed from the values, the operator's settings and
flags (parsed by the operator's own code), metrics objects only when metrics are on, peering only
with peering. The helm binary comes from ``testkit.helm`` (fetched once, cached outside the repo).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from smc_operator.cli import _parser as cli_parser
from smc_operator.credentials import ACCESS_KEY_ID, ACCESS_KEY_SECRET
from smc_operator.settings import load_settings
from testkit.helm import CHART, ROOT, dockerfile_instructions, final_stage, run_helm, template_args

#: Validate against the Kubernetes version Helm renders for, and the oldest the chart supports.
KUBE_VERSIONS = ("1.35", "1.25")
VALUES_PATH = CHART / "values.yaml"
SCHEMA_PATH = CHART / "values.schema.json"
PEERING_CRDS = CHART / "charts" / "kopf-peering" / "crds" / "kopf-peering.yaml"
RELEASE = "smc-operator"
NAMESPACE = "smc-operator"
ROLE_ARN = "acs:ram::1234567890123456:role/smc-operator"
OIDC_ARN = "acs:ram::1234567890123456:oidc-provider/ack-rrsa-c0123456789abcdef"
RRSA_TOKEN_DIR = "/var/run/secrets/ack.alibabacloud.com/rrsa-tokens"

#: Kinds kubernetes-validate cannot know (custom resources), and why that is fine.
SKIPPED_KINDS = {
    "ServiceMonitor": "the Prometheus Operator's CRD is not part of Kubernetes or of this chart; "
    "test_service_monitor_scrapes_the_metrics_service checks its fields instead",
    "PrometheusRule": "the Prometheus Operator's CRD: test_alerts.py checks its rules with promtool",
    "ClusterKopfPeering": "kopf's custom resource: validated against kopf's peering CRD instead",
    "KopfPeering": "kopf's custom resource: validated against kopf's peering CRD instead",
}

#: The value combinations (overrides of values.yaml) the chart must render correctly.
COMBINATIONS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespaced": {"watch": {"namespaces": ["team-a", "team-b"]}},
    "access-key-secret": {
        "credentials": {"existingSecret": "smc-credentials", "securityTokenKey": "securityToken"}
    },
    "rrsa": {
        "credentials": {
            "rrsa": {
                "enabled": True,
                "roleArn": ROLE_ARN,
                "oidcProviderArn": OIDC_ARN,
                "roleSessionName": "smc-operator",
            },
            "disableEcsMetadata": True,
        }
    },
    "rrsa-webhook": {
        "credentials": {"rrsa": {"enabled": True, "injection": "webhook", "roleName": "smc"}}
    },
    "peering": {"peering": {"enabled": True}},
    "peering-namespaced": {
        "peering": {"enabled": True, "name": "smc-team"},
        "watch": {"namespaces": ["team-a", "team-b"]},
    },
    "standbys": {
        "replicaCount": 3,
        "peering": {"enabled": True, "priority": 50},
        "podDisruptionBudget": {"enabled": True},
    },
    "metrics-off": {"metrics": {"enabled": False}},
    "day-two": {
        "metrics": {
            "serviceMonitor": {"enabled": True},
            "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
            "dashboard": {"enabled": True, "annotations": {"grafana_folder": "Migration"}},
        }
    },
    "ca-configmap": {"config": {"caBundle": {"configMap": "corporate-ca"}}},
    "ca-secret": {"config": {"caBundle": {"secret": "smc-private-ca", "key": "bundle.crt"}}},
    "service-monitor": {
        "metrics": {
            "port": 9100,
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        }
    },
    "no-secret-access": {
        "watch": {"namespaces": ["team-a"]},
        "credentials": {"existingSecret": "smc-credentials", "secretRefs": {"enabled": False}},
        "rbac": {"watchClusterResources": False},
    },
    "secret-names": {"credentials": {"secretRefs": {"names": ["smc-credentials", "other"]}}},
    "customized": {
        "fullnameOverride": "smc",
        "commonLabels": {"team": "migration"},
        "image": {
            "repository": "registry.cn-hangzhou.aliyuncs.com/acme/smc-operator",
            "digest": "sha256:" + "ab" * 32,
        },
        "imagePullSecrets": [{"name": "acr"}],
        "config": {
            "endpoint": "https://smc-vpc.cn-hangzhou.aliyuncs.com",
            "region": "cn-shanghai",
            "maxAttempts": 3,
            "backoffBaseSeconds": 0.5,
            "backoffMaxSeconds": 30,
            "qps": 0,
            "pollIntervalSeconds": 0,
            "requestTimeoutSeconds": 20,
            "workers": 16,
        },
        "logging": {"level": "DEBUG", "format": "json"},
        "health": {"port": 9091},
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
        "podAnnotations": {"example.com/note": "x"},
        "podLabels": {"example.com/tier": "ops"},
        "priorityClassName": "system-cluster-critical",
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                            ]
                        }
                    ]
                }
            }
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "smc-operator"}},
            }
        ],
        "serviceAccount": {"annotations": {"example.com/owner": "ops"}},
    },
}

Obj = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    name: str
    values: dict[str, Any]  # values.yaml merged with the combination's overrides
    objects: list[Obj]
    values_file: Path

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str) -> Obj:
        (found,) = self.of_kind(kind)
        return found

    @property
    def deployments(self) -> list[Obj]:
        return self.of_kind("Deployment")

    def containers(self) -> Iterator[Obj]:
        for deployment in self.deployments:
            yield from deployment["spec"]["template"]["spec"]["containers"]


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def default_values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(VALUES_PATH.read_text())
    return loaded


def render(values: Mapping[str, Any], tmp: Path, name: str) -> tuple[list[Obj], Path]:
    values_file = tmp / f"{name}.yaml"
    values_file.write_text(yaml.safe_dump(dict(values)))
    result = run_helm(*template_args(RELEASE, NAMESPACE), values=values_file)
    assert result.returncode == 0, f"helm template ({name}) failed:\n{result.stderr}"
    return [o for o in yaml.safe_load_all(result.stdout) if o], values_file


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    """Every combination rendered once for the whole module."""
    tmp = tmp_path_factory.mktemp("helm-values")
    defaults = default_values()
    out = {}
    for name, override in COMBINATIONS.items():
        objects, values_file = render(override, tmp, name)
        out[name] = Rendered(name, merged(defaults, override), objects, values_file)
    return out


@pytest.fixture(params=sorted(COMBINATIONS))
def combo(request: pytest.FixtureRequest, rendered: dict[str, Rendered]) -> Rendered:
    return rendered[request.param]


def env_of(container: Obj) -> dict[str, Obj]:
    return {item["name"]: item for item in container.get("env", [])}


def plain_env(container: Obj) -> dict[str, str]:
    return {name: item["value"] for name, item in env_of(container).items() if "value" in item}


# --- helm lint and offline validation -------------------------------------------------------


def test_helm_lint_strict(combo: Rendered) -> None:
    result = run_helm("lint", "--strict", str(CHART), values=combo.values_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_every_object_validates_offline(combo: Rendered) -> None:
    kinds = set()
    for obj in combo.objects:
        kinds.add(obj["kind"])
        if obj["kind"] in SKIPPED_KINDS:
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} on {version}: {exc.message}")
    assert {"CustomResourceDefinition", "Deployment", "ServiceAccount"} <= kinds


def test_the_validator_rejects_an_unknown_field(rendered: dict[str, Rendered]) -> None:
    deployment = copy.deepcopy(rendered["default"].deployments[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[0], strict=True)


def test_peering_objects_validate_against_kopfs_crds(combo: Rendered) -> None:
    crds = {
        (crd["spec"]["group"], crd["spec"]["names"]["kind"]): crd
        for crd in yaml.safe_load_all(PEERING_CRDS.read_text())
        if crd
    }
    for obj in combo.of_kind("KopfPeering") + combo.of_kind("ClusterKopfPeering"):
        group, version = obj["apiVersion"].split("/")
        crd = crds[(group, obj["kind"])]
        (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
        jsonschema.validate(obj, served["schema"]["openAPIV3Schema"])
        assert ("namespace" in obj["metadata"]) == (crd["spec"]["scope"] == "Namespaced")


def test_every_object_carries_the_standard_labels(combo: Rendered) -> None:
    for obj in combo.objects:
        if obj["kind"] == "CustomResourceDefinition":
            continue  # static files from crds/, never templated
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "smc-operator", obj["kind"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/part-of"] == "smc-operator"
        assert labels["helm.sh/chart"] == "smc-operator-0.1.0"
        assert "app.kubernetes.io/version" in labels
        for key, value in combo.values["commonLabels"].items():
            assert labels[key] == value


def test_namespaced_objects_are_in_the_release_or_a_watched_namespace(combo: Rendered) -> None:
    allowed = {NAMESPACE, *combo.values["watch"]["namespaces"]}
    for obj in combo.objects:
        if obj["kind"] in ("Role", "RoleBinding", "KopfPeering"):
            assert obj["metadata"]["namespace"] in combo.values["watch"]["namespaces"]
        elif "namespace" in obj["metadata"]:
            assert obj["metadata"]["namespace"] in allowed
            assert obj["kind"] not in ("ClusterRole", "ClusterRoleBinding", "ClusterKopfPeering")


# --- the CRDs --------------------------------------------------------------------------------


def test_chart_crds_are_byte_identical_to_the_top_level_crds() -> None:
    sources = sorted((ROOT / "crds").glob("*.yaml"))
    copies = sorted((CHART / "crds").glob("*.yaml"))
    assert sources
    assert [p.name for p in copies] == [p.name for p in sources], "run scripts/sync-crds"
    for source in sources:
        assert (CHART / "crds" / source.name).read_bytes() == source.read_bytes(), (
            f"deploy/helm/smc-operator/crds/{source.name} differs from crds/{source.name}: "
            "run scripts/sync-crds (crds/ is the one source; never edit the chart's copy)"
        )


def test_crds_are_installed_from_crds_dir_so_uninstall_keeps_them() -> None:
    # Helm deletes on uninstall exactly what the release manifest holds: the templates. CRDs from
    # crds/ are created at install only and never deleted, so they must not be in the manifest.
    result = run_helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE)
    assert result.returncode == 0, result.stderr
    kinds = [o["kind"] for o in yaml.safe_load_all(result.stdout) if o]
    assert "CustomResourceDefinition" not in kinds


def test_kopf_peering_crds_are_the_ones_kopf_looks_for(rendered: dict[str, Rendered]) -> None:
    from kopf._cogs.structs import references

    crds = [c for c in yaml.safe_load_all(PEERING_CRDS.read_text()) if c]
    served = [
        references.Resource(
            group=c["spec"]["group"],
            version=v["name"],
            plural=c["spec"]["names"]["plural"],
            kind=c["spec"]["names"]["kind"],
            singular=c["spec"]["names"]["singular"],
            namespaced=c["spec"]["scope"] == "Namespaced",
            verbs=frozenset({"list", "watch", "patch"}),
        )
        for c in crds
        for v in c["spec"]["versions"]
        if v["served"]
    ]
    for selector, namespaced in (
        (references.CLUSTER_PEERINGS_K, False),
        (references.NAMESPACED_PEERINGS_K, True),
    ):
        (resource,) = selector.select(served)
        assert resource.namespaced == namespaced
    # Rendered (installed) only with peering on: they come from the gated subchart.
    for name, result in rendered.items():
        names = {o["metadata"]["name"] for o in result.of_kind("CustomResourceDefinition")}
        with_peering = result.values["peering"]["enabled"]
        assert ("kopfpeerings.kopf.dev" in names) == with_peering, name
        assert ("clusterkopfpeerings.kopf.dev" in names) == with_peering, name
        assert "replicationjobs.smcoperator.io" in names


# --- the pod ---------------------------------------------------------------------------------

#: Volume types the "restricted" Pod Security Standard allows.
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def test_pods_meet_the_restricted_pod_security_standard(combo: Rendered) -> None:
    assert combo.deployments
    for deployment in combo.deployments:
        pod = deployment["spec"]["template"]["spec"]
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(host), host
        pod_context = pod["securityContext"]
        assert pod_context["runAsNonRoot"] is True
        assert pod_context["runAsUser"] != 0
        assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
        for volume in pod.get("volumes", []):
            (kind,) = set(volume) - {"name"}
            assert kind in RESTRICTED_VOLUMES, volume
        for container in pod["containers"] + pod.get("initContainers", []):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert not context["capabilities"].get("add")
            assert context.get("privileged") in (None, False)
            assert context["readOnlyRootFilesystem"] is True
            assert context.get("runAsUser", pod_context["runAsUser"]) != 0
            assert context.get("seccompProfile", {"type": "RuntimeDefault"}) == {
                "type": "RuntimeDefault"
            }
            assert all("hostPort" not in port for port in container.get("ports", []))


def test_the_only_writable_path_is_tmp(combo: Rendered) -> None:
    for deployment in combo.deployments:
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        (container,) = pod["containers"]
        writable = [m for m in container["volumeMounts"] if not m.get("readOnly")]
        assert [m["mountPath"] for m in writable] == ["/tmp"]
        assert "emptyDir" in volumes[writable[0]["name"]]
        assert plain_env(container)["PYTHONDONTWRITEBYTECODE"] == "1"


def test_probes_hit_kopfs_health_endpoint(combo: Rendered) -> None:
    port = combo.values["health"]["port"]
    for container in combo.containers():
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["health"] == port
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
        assert plain_env(container)["SMC_OPERATOR_HEALTH_PORT"] == str(port)


def test_one_pod_per_deployment_with_recreate(combo: Rendered) -> None:
    deployments = combo.deployments
    assert len(deployments) == combo.values["replicaCount"]
    for deployment in deployments:
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
    selectors = [json.dumps(d["spec"]["selector"], sort_keys=True) for d in deployments]
    assert len(set(selectors)) == len(selectors), "Deployments must not share a selector"


def test_container_runs_the_images_entrypoint_with_flags_the_cli_accepts(
    combo: Rendered,
) -> None:
    values = combo.values
    priorities = []
    for container in combo.containers():
        assert "command" not in container, "the image's ENTRYPOINT (smc-operator run) must apply"
        args = cli_parser().parse_args(["run", *container["args"]])
        assert args.namespace == values["watch"]["namespaces"]
        assert args.workers == values["config"]["workers"]
        if values["peering"]["enabled"]:
            assert args.peering == values["peering"]["name"]
            priorities.append(args.priority)
        else:
            assert args.peering is None
        env = env_of(container)
        assert env["POD_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    if values["peering"]["enabled"]:
        # kopf pauses every operator when priorities are equal: each pod needs its own.
        first = values["peering"]["priority"]
        assert priorities == [first - i for i in range(values["replicaCount"])]


def test_entrypoint_and_user_match_the_dockerfile(rendered: dict[str, Rendered]) -> None:
    image = final_stage(dockerfile_instructions())
    (entrypoint,) = [json.loads(arg) for op, arg in image if op == "ENTRYPOINT"]
    (user,) = [arg for op, arg in image if op == "USER"]
    assert entrypoint == ["smc-operator", "run"]
    uid, gid = (int(part) for part in user.split(":"))
    for container_spec in rendered["default"].deployments:
        pod = container_spec["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == uid
        assert pod["securityContext"]["runAsGroup"] == gid


def test_env_carries_the_settings_the_operator_accepts(combo: Rendered) -> None:
    values = combo.values
    config = values["config"]
    for container in combo.containers():
        env = plain_env(container)
        # The CA file exists only in the pod (test_the_ca_bundle_is_mounted_where_the_setting_says).
        env.pop("SMC_OPERATOR_CA_FILE", None)
        settings = load_settings(env)  # raises SettingsError naming any bad variable
        metrics = values["metrics"]
        assert settings.endpoint == config["endpoint"]
        assert settings.region == config["region"]
        assert settings.max_attempts == config["maxAttempts"]
        assert settings.backoff_base_seconds == config["backoffBaseSeconds"]
        assert settings.backoff_max_seconds == config["backoffMaxSeconds"]
        assert settings.qps == config["qps"]
        assert settings.poll_interval_seconds == config["pollIntervalSeconds"]
        assert settings.request_timeout_seconds == config["requestTimeoutSeconds"]
        assert settings.metrics_port == (metrics["port"] if metrics["enabled"] else 0)
        assert settings.health_port == values["health"]["port"]
        assert settings.log_level.value == values["logging"]["level"]
        assert settings.log_format.value == values["logging"]["format"]
        for extra in values["extraEnv"]:
            assert env[extra["name"]] == extra["value"]


def test_the_ca_bundle_is_mounted_where_the_setting_says(combo: Rendered) -> None:
    bundle = combo.values["config"]["caBundle"]
    for deployment in combo.deployments:
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        (container,) = pod["containers"]
        env = plain_env(container)
        if not (bundle["configMap"] or bundle["secret"]):
            assert "SMC_OPERATOR_CA_FILE" not in env
            assert "smc-ca" not in volumes
            continue
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "smc-ca"]
        assert mount["readOnly"] is True
        assert env["SMC_OPERATOR_CA_FILE"] == f"{mount['mountPath']}/ca.pem"
        source = volumes["smc-ca"]
        if bundle["configMap"]:
            assert source["configMap"]["name"] == bundle["configMap"]
            items = source["configMap"]["items"]
        else:
            assert source["secret"]["secretName"] == bundle["secret"]
            items = source["secret"]["items"]
        assert items == [{"key": bundle["key"], "path": "ca.pem"}]


def test_the_values_defaults_are_the_operators_defaults() -> None:
    config = default_values()["config"]
    logging = default_values()["logging"]
    defaults = load_settings({})  # the defaults, whatever this process's environment says
    assert config["endpoint"] == defaults.endpoint
    assert config["region"] == defaults.region
    assert config["maxAttempts"] == defaults.max_attempts
    assert config["backoffBaseSeconds"] == defaults.backoff_base_seconds
    assert config["backoffMaxSeconds"] == defaults.backoff_max_seconds
    assert config["qps"] == defaults.qps
    assert config["pollIntervalSeconds"] == defaults.poll_interval_seconds
    assert config["requestTimeoutSeconds"] == defaults.request_timeout_seconds
    assert not config["caBundle"]["configMap"] and not config["caBundle"]["secret"]
    assert defaults.ca_file is None
    assert default_values()["metrics"]["port"] == defaults.metrics_port
    assert default_values()["health"]["port"] == defaults.health_port
    assert logging["level"] == defaults.log_level.value
    assert logging["format"] == defaults.log_format.value
    assert config["workers"] == cli_parser().parse_args(["run"]).workers


def test_credentials_reach_the_pod_as_chosen(combo: Rendered) -> None:
    credentials = combo.values["credentials"]
    rrsa = credentials["rrsa"]
    for deployment in combo.deployments:
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = env_of(container)
        alibaba = {name for name in env if name.startswith("ALIBABA_CLOUD_")}
        expected = set()
        if credentials["existingSecret"]:
            expected |= {"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"}
            secret = credentials["existingSecret"]
            assert env["ALIBABA_CLOUD_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {
                "name": secret,
                "key": ACCESS_KEY_ID,
            }
            assert env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]["valueFrom"]["secretKeyRef"] == {
                "name": secret,
                "key": ACCESS_KEY_SECRET,
            }
            if credentials["securityTokenKey"]:
                expected.add("ALIBABA_CLOUD_SECURITY_TOKEN")
        volumes = {v["name"]: v for v in pod["volumes"]}
        if rrsa["enabled"] and rrsa["injection"] == "chart":
            expected |= {
                "ALIBABA_CLOUD_ROLE_ARN",
                "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
                "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
            }
            if rrsa["roleSessionName"]:
                expected.add("ALIBABA_CLOUD_ROLE_SESSION_NAME")
            assert env["ALIBABA_CLOUD_ROLE_ARN"]["value"] == rrsa["roleArn"]
            assert env["ALIBABA_CLOUD_OIDC_PROVIDER_ARN"]["value"] == rrsa["oidcProviderArn"]
            token_file = Path(env["ALIBABA_CLOUD_OIDC_TOKEN_FILE"]["value"])
            (mount,) = [m for m in container["volumeMounts"] if m["name"] == "rrsa-oidc-token"]
            assert mount["readOnly"] is True
            assert token_file.parent == Path(mount["mountPath"]) == Path(RRSA_TOKEN_DIR)
            (source,) = volumes["rrsa-oidc-token"]["projected"]["sources"]
            assert source["serviceAccountToken"] == {
                "path": token_file.name,
                "audience": "sts.aliyuncs.com",
                "expirationSeconds": rrsa["tokenExpirationSeconds"],
            }
        else:
            assert "rrsa-oidc-token" not in volumes
        if credentials["disableEcsMetadata"]:
            expected.add("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
            assert env["ALIBABA_CLOUD_ECS_METADATA_DISABLED"]["value"] == "true"
        assert alibaba == expected
    annotations = (
        combo.one("ServiceAccount")["metadata"].get("annotations", {})
        if combo.values["serviceAccount"]["create"]
        else {}
    )
    webhook = rrsa["enabled"] and rrsa["injection"] == "webhook"
    assert (annotations.get("pod-identity.alibabacloud.com/role-name") == rrsa["roleName"]) == (
        webhook
    )
    for key, value in combo.values["serviceAccount"]["annotations"].items():
        assert annotations[key] == value


# --- metrics ---------------------------------------------------------------------------------


def test_metrics_objects_exist_only_with_metrics(combo: Rendered) -> None:
    metrics = combo.values["metrics"]
    services = combo.of_kind("Service")
    monitors = combo.of_kind("ServiceMonitor")
    for container in combo.containers():
        names = {p["name"] for p in container["ports"]}
        assert ("metrics" in names) == metrics["enabled"]
    if not metrics["enabled"]:
        assert services == [] and monitors == []
        return
    (service,) = services
    assert service["spec"]["ports"] == [
        {
            "name": "metrics",
            "port": metrics["service"]["port"],
            "targetPort": "metrics",
            "protocol": "TCP",
        }
    ]
    for deployment in combo.deployments:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == metrics["port"]
    assert len(monitors) == int(metrics["serviceMonitor"]["enabled"])


def test_the_dashboard_configmap_carries_the_dashboard_for_grafanas_sidecar(
    rendered: dict[str, Rendered],
) -> None:
    combo = rendered["day-two"]
    (configmap,) = [
        c for c in combo.of_kind("ConfigMap") if c["metadata"]["name"].endswith("-dashboard")
    ]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Migration"}
    shipped = CHART / "dashboards" / "smc-operator.json"
    assert json.loads(configmap["data"]["smc-operator.json"]) == json.loads(shipped.read_text())
    for name, other in rendered.items():
        if name != "day-two":
            assert not [
                c for c in other.of_kind("ConfigMap") if "dashboard" in c["metadata"]["name"]
            ]


def test_service_monitor_scrapes_the_metrics_service(rendered: dict[str, Rendered]) -> None:
    combo = rendered["service-monitor"]
    monitor = combo.one("ServiceMonitor")
    service = combo.one("Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics"


# --- RBAC ------------------------------------------------------------------------------------

CLUSTER = "<cluster>"
Grant = tuple[str, str, str, str, str]  # scope, apiGroup, resource, verb, resourceName ("" = any)


def granted(combo: Rendered) -> set[Grant]:
    """What the rendered roles grant the operator's ServiceAccount, through their bindings."""
    roles = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
        for o in combo.objects
        if o["kind"] in ("Role", "ClusterRole")
    }
    account = combo.one("ServiceAccount")["metadata"]["name"]
    for deployment in combo.deployments:
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account
    bound = set()
    grants: set[Grant] = set()
    for binding in combo.of_kind("RoleBinding") + combo.of_kind("ClusterRoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
        ]
        namespace = binding["metadata"].get("namespace")
        ref = binding["roleRef"]
        key = (ref["kind"], namespace if ref["kind"] == "Role" else None, ref["name"])
        bound.add(key)
        scope = namespace or CLUSTER
        for rule in roles[key]["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        for name in rule.get("resourceNames") or [""]:
                            grants.add((scope, group, resource, verb, name))
    assert bound == set(roles), "every role is bound, and only to the operator"
    return grants


def expected_grants(values: Mapping[str, Any]) -> set[Grant]:
    """The least privilege the operator and kopf need, from the values (module docstring of rbac)."""
    namespaces = values["watch"]["namespaces"]
    secret_refs = values["credentials"]["secretRefs"]
    peering = values["peering"]
    grants: set[Grant] = set()
    for scope in namespaces or [CLUSTER]:
        grants |= {
            (scope, "smcoperator.io", "replicationjobs", v, "") for v in ("list", "watch", "patch")
        }
        grants.add((scope, "smcoperator.io", "replicationjobs/status", "patch", ""))
        grants.add((scope, "", "events", "create", ""))
        if secret_refs["enabled"]:
            grants |= {(scope, "", "secrets", "get", name) for name in secret_refs["names"] or [""]}
        if peering["enabled"]:
            plural = "kopfpeerings" if namespaces else "clusterkopfpeerings"
            grants |= {(scope, "kopf.dev", plural, v, "") for v in ("list", "watch")}
            grants.add((scope, "kopf.dev", plural, "patch", peering["name"]))
            grants.add((scope, "kopf.dev", plural, "get", peering["name"]))
    if values["rbac"]["watchClusterResources"] and not namespaces:
        crds = ("apiextensions.k8s.io", "customresourcedefinitions")
        grants |= {(CLUSTER, *crds, v, "") for v in ("list", "watch")}
    return grants


def test_rbac_grants_exactly_the_least_privilege(combo: Rendered) -> None:
    assert granted(combo) == expected_grants(combo.values)


def test_rbac_has_no_wildcards_and_no_non_resource_urls(combo: Rendered) -> None:
    for role in combo.of_kind("Role") + combo.of_kind("ClusterRole"):
        for rule in role["rules"]:
            assert "nonResourceURLs" not in rule, "discovery comes from system:discovery"
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                for item in rule.get(field, []):
                    assert "*" not in item, f"{role['metadata']['name']}: {field} {item!r}"


def test_rbac_essentials_per_scope(combo: Rendered) -> None:
    grants = granted(combo)
    values = combo.values
    namespaces = values["watch"]["namespaces"]
    scopes = set(namespaces) or {CLUSTER}
    status = {(s, "smcoperator.io", "replicationjobs/status", "patch", "") for s in scopes}
    assert status <= grants, "the status subresource must be patchable where jobs are watched"
    secret_scopes = {g[0] for g in grants if g[2] == "secrets"}
    if values["credentials"]["secretRefs"]["enabled"]:
        assert secret_scopes == scopes, "Secrets only where ReplicationJobs are watched"
    else:
        assert secret_scopes == set()
    assert all(g[3] == "get" for g in grants if g[2] == "secrets")
    peering = {g for g in grants if g[1] == "kopf.dev"}
    assert bool(peering) == values["peering"]["enabled"]
    assert not any(
        g[3]
        in ("create", "update", "delete", "deletecollection", "escalate", "bind", "impersonate")
        for g in grants
        if g[2] != "events"
    )
    if namespaces:
        assert not any(g[0] == CLUSTER and g[1] == "smcoperator.io" for g in grants)
        assert not combo.of_kind("ClusterRole")  # named namespaces: nothing cluster-scoped


def test_every_rbac_rule_is_commented_in_the_template() -> None:
    sources = [CHART / "templates" / "rbac.yaml", CHART / "templates" / "_rules.tpl"]
    for source in sources:
        lines = source.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.lstrip().startswith("- apiGroups:"):
                above = lines[number - 1].strip()
                assert above.startswith("#"), f"{source.name}:{number + 1}: a rule without a why"


# --- peering and replicas --------------------------------------------------------------------


def test_peering_objects_exist_only_with_peering(combo: Rendered) -> None:
    peering = combo.values["peering"]
    namespaces = combo.values["watch"]["namespaces"]
    cluster = combo.of_kind("ClusterKopfPeering")
    namespaced = combo.of_kind("KopfPeering")
    if not peering["enabled"]:
        assert cluster == [] and namespaced == []
    elif namespaces:
        assert cluster == []
        assert sorted(o["metadata"]["namespace"] for o in namespaced) == sorted(namespaces)
        assert {o["metadata"]["name"] for o in namespaced} == {peering["name"]}
    else:
        assert namespaced == []
        assert [o["metadata"]["name"] for o in cluster] == [peering["name"]]


def test_pod_disruption_budget_covers_every_operator_pod(rendered: dict[str, Rendered]) -> None:
    combo = rendered["standbys"]
    budget = combo.one("PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in budget["spec"]
    for deployment in combo.deployments:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert all(not r.of_kind("PodDisruptionBudget") for n, r in rendered.items() if n != "standbys")


# --- values: documented, schema-checked, impossible combinations refused ----------------------


def test_every_value_is_documented_and_in_the_schema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    lines = VALUES_PATH.read_text().splitlines()
    stack: list[tuple[int, str]] = []
    for number, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z][\w-]*):", line)
        if match is None:
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = [key for _, key in stack] + [match.group(2)]
        stack.append((indent, match.group(2)))
        node = schema
        free_form = False
        for key in path:
            properties = node.get("properties")
            if properties is None:
                free_form = True  # e.g. resources.requests.cpu: a Kubernetes object, as is
                break
            assert key in properties, (
                f"values.yaml:{number + 1}: {'.'.join(path)} not in the schema"
            )
            node = properties[key]
        if free_form or "properties" in node:
            continue  # free-form content, or a group whose values are documented one by one
        above = lines[number - 1].strip() if number else ""
        assert above.startswith("#"), f"values.yaml:{number + 1}: {'.'.join(path)} is undocumented"


def test_the_schema_names_every_value() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    defaults = default_values()

    def walk(node: Mapping[str, Any], values: Mapping[str, Any], path: str) -> None:
        properties = node.get("properties")
        if properties is None:
            return
        assert node.get("additionalProperties") is False, path
        extra = {"global", "kopf-peering"} if path == "" else set()
        assert set(properties) - extra == set(values), path
        for key, value in values.items():
            if isinstance(value, Mapping):
                walk(properties[key], value, f"{path}.{key}")

    walk(schema, defaults, "")
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(defaults, schema)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"replicaCount": 2}, "replicaCount > 1 requires peering.enabled=true"),
        (
            {
                "credentials": {
                    "existingSecret": "s",
                    "rrsa": {"enabled": True, "roleArn": ROLE_ARN, "oidcProviderArn": OIDC_ARN},
                }
            },
            "are exclusive",
        ),
        ({"credentials": {"rrsa": {"enabled": True}}}, "needs credentials.rrsa.roleArn"),
        (
            {"credentials": {"rrsa": {"enabled": True, "injection": "webhook"}}},
            "needs credentials.rrsa.roleName",
        ),
        (
            {"podDisruptionBudget": {"enabled": True, "minAvailable": 1, "maxUnavailable": 1}},
            "not both",
        ),
        ({"serviceAccount": {"create": False}}, "serviceAccount.name is required"),
        ({"unknownValue": 1}, r"(?i)additional propert(y|ies) '?unknownValue'? (is )?not allowed"),
        ({"replicaCount": "2"}, "replicaCount"),
        ({"logging": {"level": "TRACE"}}, "logging"),
        ({"watch": {"namespaces": ["Not_A_Namespace"]}}, "watch"),
        ({"credentials": {"rrsa": {"injection": "sidecar"}}}, "injection"),
        (
            {"config": {"caBundle": {"configMap": "a", "secret": "b"}}},
            "configMap or secret, not both",
        ),
    ],
)
def test_impossible_values_fail_with_the_reason(
    override: dict[str, Any], message: str, tmp_path: Path
) -> None:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(override))
    result = run_helm(*template_args(RELEASE, NAMESPACE), values=values_file)
    assert result.returncode != 0
    assert re.search(message, result.stderr), result.stderr
