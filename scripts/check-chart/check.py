#!/usr/bin/env python3
"""The checks of scripts/check-chart.sh: the Helm chart (helm/herald) and the kustomize
manifests (k8s/), without a cluster.

One line per check, `ok` or `FAIL`, with the problems indented below a failure; the exit
code is 1 when any check failed. Run through scripts/check-chart.sh, which installs the
tools (requirements.txt) into .tools/chart/venv and passes the herald binary.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any, Callable

import yaml

KUBE_VERSION = "1.33"
HELM_KUBE_VERSION = "v1.33.0"
RELEASE = "herald"
NAMESPACE = "herald"
# Herald's config keys naming files that must exist (docs/configuration.md).
FILE_KEYS = (
    "edge.tls.cert",
    "edge.tls.key",
    "nats.credentials",
    "etcd.tls.ca",
    "etcd.tls.cert",
    "etcd.tls.key",
    "control.tokens_file",
    "grpc.token_file",
    "control.tls.cert",
    "control.tls.key",
    "control.tls.client_ca",
)
HERALD_ROLES = ("edge", "router", "connector", "control")


class Runner:
    """Prints one line per check and remembers failures."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.passed = 0

    def check(self, name: str, fn: Callable[[], list[str] | str | None]) -> Any:
        start = time.monotonic()
        try:
            result = fn()
        except Exception as error:  # a crash of a check is its failure
            result = [f"{type(error).__name__}: {error}"]
        took = time.monotonic() - start
        problems: list[str]
        note = ""
        if isinstance(result, str):
            problems, note = [], result
        else:
            problems = list(result or [])
        if problems:
            self.failed.append(name)
            print(f"FAIL {name} ({took:.1f}s)")
            for problem in problems:
                for i, line in enumerate(str(problem).splitlines()):
                    print(f"     {'- ' if i == 0 else '  '}{line}")
        else:
            self.passed += 1
            print(f"ok   {name}{': ' + note if note else ''} ({took:.1f}s)")
        sys.stdout.flush()


# ------------------------------------------------------------------ object validation

def _crd_models() -> dict[tuple[str, str], Any]:
    from cloudcoil.models.prometheus_operator import v1 as promv1

    return {
        ("monitoring.coreos.com/v1", "ServiceMonitor"): promv1.ServiceMonitor,
        ("monitoring.coreos.com/v1", "PrometheusRule"): promv1.PrometheusRule,
    }


_CRDS: dict[tuple[str, str], Any] | None = None


def _unknown_keys(given: Any, kept: Any, path: str) -> list[str]:
    """Keys of `given` that the model dropped (pydantic ignores unknown fields)."""
    out: list[str] = []
    if isinstance(given, dict) and isinstance(kept, dict):
        for key, value in given.items():
            if key not in kept:
                out.append(f"{path}.{key}" if path else key)
            else:
                out += _unknown_keys(value, kept[key], f"{path}.{key}" if path else key)
    elif isinstance(given, list) and isinstance(kept, list):
        for i, (a, b) in enumerate(zip(given, kept)):
            out += _unknown_keys(a, b, f"{path}[{i}]")
    return out


def name_of(obj: dict) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def validate_object(obj: dict) -> list[str]:
    """Kubernetes objects against the strict JSON schemas of KUBE_VERSION; the
    prometheus-operator kinds against their pydantic models. No schema is an error."""
    global _CRDS
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

    if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
        return [f"not a Kubernetes object: {str(obj)[:80]}"]
    if not (obj.get("metadata") or {}).get("name"):
        return [f"{obj['kind']} without metadata.name"]
    key = (obj["apiVersion"], obj["kind"])
    if key[0].startswith("monitoring.coreos.com/"):
        if _CRDS is None:
            _CRDS = _crd_models()
        model = _CRDS.get(key)
        if model is None:
            return [f"{name_of(obj)}: no model for {key[1]} {key[0]}"]
        try:
            parsed = model.model_validate(obj)
        except Exception as error:  # pydantic.ValidationError
            return [f"{name_of(obj)}: {error}"]
        kept = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
        return [f"{name_of(obj)}: unknown field {k}" for k in _unknown_keys(obj, kept, "")]
    try:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    except ValidationError as error:
        path = ".".join(str(p) for p in error.path)
        return [f"{name_of(obj)}: {path}: {error.message}"]
    except SchemaNotFoundError:
        return [f"{name_of(obj)}: no schema for {key[1]} {key[0]} in Kubernetes {KUBE_VERSION}"]
    return []


def validate_all(objs: list[dict]) -> list[str]:
    problems: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for obj in objs:
        problems += validate_object(obj)
        ident = (obj.get("kind", ""), (obj.get("metadata") or {}).get("namespace", ""),
                 (obj.get("metadata") or {}).get("name", ""))
        if ident in seen:
            problems.append(f"{name_of(obj)}: defined twice")
        seen.add(ident)
    return problems


# ------------------------------------------------------------------ references between objects

WORKLOADS = ("Deployment", "StatefulSet")


def pod_templates(objs: list[dict]) -> list[tuple[dict, dict]]:
    return [(o, o["spec"]["template"]) for o in objs if o.get("kind") in WORKLOADS]


def matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_references(objs: list[dict]) -> tuple[list[str], list[str]]:
    """Selectors, names and ports that must meet. Returns (problems, Secrets expected to exist)."""
    problems: list[str] = []
    by_kind: dict[str, dict[str, dict]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    configmaps = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})
    external_secrets: set[str] = set()
    templates = pod_templates(objs)

    for workload, template in templates:
        wname = name_of(workload)
        labels = template["metadata"].get("labels", {})
        selector = workload["spec"]["selector"].get("matchLabels", {})
        if not matches(selector, labels):
            problems.append(f"{wname}: selector {selector} does not match its pods' labels")
        spec = template["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for claim in workload["spec"].get("volumeClaimTemplates", []):
            volumes[claim["metadata"]["name"]] = {"name": claim["metadata"]["name"], "persistentVolumeClaim": {}}
        if sa := spec.get("serviceAccountName"):
            if sa not in by_kind.get("ServiceAccount", {}) and sa != "default":
                problems.append(f"{wname}: ServiceAccount {sa} is not defined")
        for v in volumes.values():
            if "configMap" in v:
                cm = configmaps.get(v["configMap"]["name"])
                if cm is None:
                    problems.append(f"{wname}: volume {v['name']}: ConfigMap {v['configMap']['name']} is not defined")
                    continue
                for item in v["configMap"].get("items", []):
                    if item["key"] not in (cm.get("data") or {}):
                        problems.append(f"{wname}: volume {v['name']}: ConfigMap {cm['metadata']['name']} has no key {item['key']}")
            if "secret" in v:
                name = v["secret"]["secretName"]
                secret = secrets.get(name)
                if secret is None:
                    if not v["secret"].get("optional"):
                        external_secrets.add(name)
                else:
                    keys = set(secret.get("data") or {}) | set(secret.get("stringData") or {})
                    for item in v["secret"].get("items", []):
                        if item["key"] not in keys:
                            problems.append(f"{wname}: volume {v['name']}: Secret {name} has no key {item['key']}")
        for c in spec.get("containers", []):
            ports = {p.get("name") for p in c.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
                if isinstance(port, str) and port not in ports:
                    problems.append(f"{wname}: {probe} uses port {port}, which the container does not name")
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    problems.append(f"{wname}: mount {m['mountPath']}: no volume {m['name']}")
                elif "subPath" in m:
                    v = volumes[m["name"]]
                    keys = [i["path"] for i in (v.get("configMap") or v.get("secret") or {}).get("items", [])]
                    if keys and m["subPath"] not in keys:
                        problems.append(f"{wname}: mount {m['mountPath']}: subPath {m['subPath']} is not in volume {m['name']}")
            for ef in c.get("envFrom", []):
                ref = (ef.get("configMapRef") or {}).get("name")
                if ref and ref not in configmaps:
                    problems.append(f"{wname}: envFrom ConfigMap {ref} is not defined")

    def pods_for(selector: dict) -> list[tuple[dict, dict]]:
        return [(w, t) for w, t in templates if matches(selector, t["metadata"].get("labels", {}))]

    for svc in by_kind.get("Service", {}).values():
        selector = svc["spec"].get("selector")
        if not selector:
            continue
        pods = pods_for(selector)
        if not pods:
            problems.append(f"{name_of(svc)}: selector {selector} matches no pods")
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort")
            if isinstance(target, str):
                for w, t in pods:
                    names = {p.get("name") for c in t["spec"]["containers"] for p in c.get("ports", [])}
                    if target not in names:
                        problems.append(f"{name_of(svc)}: targetPort {target} is not a port of {name_of(w)}")
    for pdb in by_kind.get("PodDisruptionBudget", {}).values():
        if not pods_for(pdb["spec"]["selector"].get("matchLabels", {})):
            problems.append(f"{name_of(pdb)}: selector matches no pods")
    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["name"] not in by_kind.get(ref["kind"], {}):
            problems.append(f"{name_of(hpa)}: scales {ref['kind']}/{ref['name']}, which is not defined")
    for np_ in by_kind.get("NetworkPolicy", {}).values():
        if not pods_for(np_["spec"]["podSelector"].get("matchLabels", {})):
            problems.append(f"{name_of(np_)}: podSelector matches no pods")
    for sm in by_kind.get("ServiceMonitor", {}).values():
        selector = sm["spec"]["selector"].get("matchLabels", {})
        svcs = [s for s in by_kind.get("Service", {}).values() if matches(selector, s["metadata"].get("labels", {}))]
        if not svcs:
            problems.append(f"{name_of(sm)}: selects no Service")
        for ep in sm["spec"].get("endpoints", []):
            for s in svcs:
                if ep.get("port") not in {p.get("name") for p in s["spec"]["ports"]}:
                    problems.append(f"{name_of(sm)}: port {ep.get('port')} is not a port of {name_of(s)}")
    for cm in configmaps.values():
        for key, text in (cm.get("data") or {}).items():
            if key.endswith(".json"):
                try:
                    json.loads(text)
                except ValueError as error:
                    problems.append(f"{name_of(cm)}: {key} is not JSON: {error}")
    return problems, sorted(external_secrets)


# ------------------------------------------------------------------ herald check-config

def _env_of(container: dict, configmaps: dict[str, dict], pod_name: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for ef in container.get("envFrom", []):
        ref = (ef.get("configMapRef") or {}).get("name")
        if ref in configmaps:
            env.update({k: str(v) for k, v in (configmaps[ref].get("data") or {}).items()})
    fields = {"metadata.name": pod_name, "status.podIP": "10.1.2.3", "metadata.namespace": NAMESPACE}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                                    lambda m: env.get(m.group(1), m.group(0)), str(e["value"]))
        elif "fieldRef" in (e.get("valueFrom") or {}):
            env[e["name"]] = fields.get(e["valueFrom"]["fieldRef"]["fieldPath"], "x")
    return env


def _key_set(toml: dict, env: dict[str, str], key: str) -> str | None:
    """The value of a dotted key from the file or a HERALD_ variable (the variable wins)."""
    var = "HERALD_" + "__".join(part.upper() for part in key.split("."))
    if var in env:
        return env[var]
    node: Any = toml
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, str) else None


def check_herald_configs(objs: list[dict], herald: str) -> tuple[list[str], int]:
    """Runs `herald check-config` on what each Herald Deployment's container would load:
    its herald.toml from the ConfigMap, its environment (HERALD_* variables, envFrom), its
    --set flags. Files the config names (TLS, tokens, credentials) must be inside a mount of
    the container; for the check they point at empty temp files."""
    problems: list[str] = []
    configmaps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    checked = 0
    with tempfile.TemporaryDirectory(prefix="check-chart-") as tmp:
        placeholder = Path(tmp, "file")
        placeholder.write_text("placeholder\n")
        for workload, template in pod_templates(objs):
            spec = template["spec"]
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            for c in spec.get("containers", []):
                args = c.get("args", [])
                if "--config" not in args or not set(args) & set(HERALD_ROLES):
                    continue
                wname = name_of(workload)
                config_path = args[args.index("--config") + 1]
                mount = next((m for m in c.get("volumeMounts", []) if m["mountPath"] == config_path), None)
                if mount is None:
                    problems.append(f"{wname}: no volume is mounted at {config_path}")
                    continue
                cm_name = (volumes.get(mount["name"], {}).get("configMap") or {}).get("name")
                cm = configmaps.get(cm_name or "")
                if cm is None:
                    problems.append(f"{wname}: {config_path} is not from a ConfigMap of this render")
                    continue
                items = volumes[mount["name"]]["configMap"].get("items")
                key = mount.get("subPath", "")
                if items:
                    key = next((i["key"] for i in items if i["path"] == key), key)
                text = (cm.get("data") or {}).get(key)
                if text is None:
                    problems.append(f"{wname}: ConfigMap {cm_name} has no key {key}")
                    continue
                role = [a for a in args if not a.startswith("-") and a != config_path]
                pod_name = f"{workload['metadata']['name']}-5d8f7c9b4-x2x7q"
                env = _env_of(c, configmaps, pod_name)
                toml = tomllib.loads(text)
                mounts = [m["mountPath"].rstrip("/") + "/" for m in c.get("volumeMounts", [])]
                overrides: list[str] = []
                for file_key in FILE_KEYS:
                    value = _key_set(toml, env, file_key)
                    if value is None:
                        continue
                    if not any(value.startswith(m) for m in mounts):
                        problems.append(f"{wname}: {file_key} = {value} is in no volume mounted into the container")
                    overrides += ["--set", f"{file_key}={placeholder}"]
                conf = Path(tmp, f"{workload['metadata']['name']}.toml")
                conf.write_text(text)
                run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, **env}
                run_env.pop("HERALD_CONFIG", None)
                sets = [a for i, a in enumerate(args) if a == "--set" or (i and args[i - 1] == "--set")]
                cmd = [herald, "--config", str(conf), *sets, *overrides, "check-config"]
                done = subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=60)
                checked += 1
                if done.returncode != 0:
                    problems.append(f"{wname} ({' '.join(role)}): herald check-config exited {done.returncode}:\n"
                                    + done.stderr.strip())
    return problems, checked


# ------------------------------------------------------------------ bundled NATS and etcd

def check_bundled(objs: list[dict], nats_server: str | None) -> list[str] | str:
    """The vendored NATS and etcd agree with themselves and with Herald's config: cluster
    routes and the etcd initial cluster name every pod by its stable DNS name, Herald's
    nats.urls and etcd.endpoints name Services and pods that exist, and nats-server -t
    accepts the rendered nats.conf (when nats-server is installed)."""
    problems: list[str] = []
    notes: list[str] = []
    sets = {o["metadata"]["name"]: o for o in objs if o["kind"] == "StatefulSet"}
    services = {o["metadata"]["name"] for o in objs if o["kind"] == "Service"}
    configmaps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    herald = next((cm for cm in configmaps.values() for k in (cm.get("data") or {}) if k.startswith("herald-")), None)
    herald_toml = tomllib.loads(next(v for k, v in herald["data"].items() if k.startswith("herald-"))) if herald else {}
    suffix = ".svc.cluster.local"
    for name, sts in sets.items():
        replicas = sts["spec"]["replicas"]
        headless = sts["spec"]["serviceName"]
        if headless not in services:
            problems.append(f"StatefulSet/{name}: serviceName {headless} is not a Service")
        pods = [f"{name}-{i}.{headless}.{NAMESPACE}{suffix}" for i in range(replicas)]
        container = sts["spec"]["template"]["spec"]["containers"][0]
        if container["name"] == "etcd":
            args = dict(a.split("=", 1) for a in container.get("args", []) if "=" in a)
            members = dict(m.split("=", 1) for m in args.get("--initial-cluster", "").split(","))
            want = {f"{name}-{i}": f"http://{pods[i]}:{args['--listen-peer-urls'].rsplit(':', 1)[1]}" for i in range(replicas)}
            if members != want:
                problems.append(f"StatefulSet/{name}: --initial-cluster {members} is not {want}")
            if args.get("--name") != "$(POD_NAME)":
                problems.append(f"StatefulSet/{name}: --name is not the pod name")
            endpoints = herald_toml.get("etcd", {}).get("endpoints", [])
            hosts = [e.split("//", 1)[1].rsplit(":", 1)[0] for e in endpoints]
            if herald_toml and hosts != pods:
                problems.append(f"Herald's etcd.endpoints {endpoints} are not the etcd pods {pods}")
            notes.append(f"etcd {replicas} member(s)")
        if container["name"] == "nats":
            conf = (configmaps.get(f"{name}-config", {}).get("data") or {}).get("nats.conf")
            if conf is None:
                problems.append(f"StatefulSet/{name}: no ConfigMap {name}-config with nats.conf")
                continue
            routes = re.findall(r"nats://([^:\s]+):\d+", conf)
            if replicas > 1 and routes != pods:
                problems.append(f"StatefulSet/{name}: cluster routes {routes} are not the pods {pods}")
            if replicas == 1 and routes:
                problems.append(f"StatefulSet/{name}: routes for a single server")
            urls = herald_toml.get("nats", {}).get("urls", [])
            for url in urls:
                host = url.split("//", 1)[1].split(".", 1)[0]
                if host not in services:
                    problems.append(f"Herald's nats.urls {url}: no Service {host}")
            if herald_toml and herald_toml.get("nats", {}).get("replicas") != min(3, replicas):
                problems.append(f"Herald's nats.replicas is not {min(3, replicas)} for {replicas} servers")
            if nats_server:
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp, "nats.conf")
                    path.write_text(conf)
                    done = subprocess.run([nats_server, "-t", "-c", str(path)], capture_output=True, text=True,
                                          env={"POD_NAME": f"{name}-0", "PATH": os.environ.get("PATH", "")}, timeout=30)
                    if done.returncode != 0:
                        problems.append(f"nats-server -t: {(done.stderr or done.stdout).strip()}")
                notes.append(f"NATS {replicas} server(s), nats-server -t ok")
            else:
                notes.append(f"NATS {replicas} server(s) (no nats-server here to test nats.conf)")
    return problems or ", ".join(notes) or "none bundled"


# ------------------------------------------------------------------ the chart

def load_docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def render(chart_dir: Path, values: dict) -> list[dict]:
    import helm_python as helm

    with helm.Chart.load(str(chart_dir)) as chart:
        out = chart.render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    objs: list[dict] = []
    for path in sorted(out):
        if path.endswith("NOTES.txt"):
            continue
        try:
            objs += load_docs(out[path])
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: the render is not YAML: {error}") from error
    return objs


def read_values(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def chart_expectations(name: str, chart_dir: Path, objs: list[dict]) -> list[str]:
    """What a values file in ci/ is there to show, checked on its render."""
    problems: list[str] = []
    kinds: dict[str, list[dict]] = {}
    for o in objs:
        kinds.setdefault(o["kind"], []).append(o)
    deployments = {d["metadata"]["name"] for d in kinds.get("Deployment", [])}
    for role in ("edge", "router", "connector", "control"):
        if f"{RELEASE}-{role}" not in deployments:
            problems.append(f"no Deployment {RELEASE}-{role}")
    edge_svc = next((s for s in kinds.get("Service", []) if s["metadata"]["name"] == f"{RELEASE}-edge"), None)
    if edge_svc is None:
        problems.append("no edge Service")
    if name.startswith("full"):
        for kind in ("HorizontalPodAutoscaler", "NetworkPolicy", "ServiceMonitor", "PodDisruptionBudget", "Secret"):
            if kind not in kinds:
                problems.append(f"no {kind}")
        if edge_svc and not {2775, 3550, 8443} <= {p["port"] for p in edge_svc["spec"]["ports"]}:
            problems.append("the edge Service lacks SMPP 2775, SMPP-TLS 3550 or HTTPS 8443")
        hpa = (kinds.get("HorizontalPodAutoscaler") or [{}])[0]
        types = {m["type"] for m in hpa.get("spec", {}).get("metrics", [])}
        if types != {"Resource", "Pods"}:
            problems.append(f"the edge HPA scales on {sorted(types)}, not CPU and a Pods metric")
        alert_files = sorted(chart_dir.glob("files/alerts/*.yaml"))
        groups = sum(len((yaml.safe_load(f.read_text()) or {}).get("groups") or []) for f in alert_files)
        rules = kinds.get("PrometheusRule", [])
        if groups and (len(rules) != 1 or len(rules[0]["spec"]["groups"]) != groups):
            problems.append(f"expected one PrometheusRule with the {groups} groups of files/alerts/*.yaml")
        if not groups and rules:
            problems.append("a PrometheusRule without files/alerts/*.yaml")
        dashboards = sorted(chart_dir.glob("files/dashboards/*.json"))
        made = [c for c in kinds.get("ConfigMap", []) if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
        if len(made) != len(dashboards):
            problems.append(f"{len(made)} dashboard ConfigMaps for {len(dashboards)} files/dashboards/*.json")
        control_toml = next(
            (tomllib.loads(text) for c in kinds.get("ConfigMap", [])
             for key, text in (c.get("data") or {}).items() if key == "herald-control.toml"),
            {},
        )
        if not control_toml.get("control", {}).get("tls", {}).get("client_ca"):
            problems.append("the control role's herald.toml lacks control.tls.client_ca (mTLS)")
        sets = {s["metadata"]["name"]: s["spec"]["replicas"] for s in kinds.get("StatefulSet", [])}
        if sets != {f"{RELEASE}-nats": 3, f"{RELEASE}-etcd": 3}:
            problems.append(f"expected 3-member NATS and etcd StatefulSets, got {sets}")
    if name.startswith("external") and "StatefulSet" in kinds:
        problems.append("external NATS/etcd, yet StatefulSets were rendered")
    # Every role's grace period covers its preStop sleep.
    for d in kinds.get("Deployment", []):
        spec = d["spec"]["template"]["spec"]
        pre = spec["containers"][0].get("lifecycle", {}).get("preStop", {})
        sleep = int((pre.get("sleep") or {}).get("seconds") or (pre.get("exec") or {}).get("command", ["", "0"])[-1])
        if spec.get("terminationGracePeriodSeconds", 30) < sleep + 15:
            problems.append(f"{name_of(d)}: terminationGracePeriodSeconds leaves under 15 s after the preStop sleep")
    return problems


# ------------------------------------------------------------------ the Dockerfile

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        current += " " + stripped.rstrip("\\").strip() if current else stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            word, _, rest = current.partition(" ")
            out.append((word.upper(), rest.strip()))
            current = ""
    return out


def workspace_bins(root: Path) -> dict[str, set[str]]:
    """Package name -> its binaries, for every crate under crates/."""
    bins: dict[str, set[str]] = {}
    for manifest in root.glob("crates/*/Cargo.toml"):
        data = tomllib.loads(manifest.read_text())
        name = data.get("package", {}).get("name")
        if not name:
            continue
        names = {b["name"] for b in data.get("bin", []) if "name" in b}
        names |= {p.stem for p in (manifest.parent / "src/bin").glob("*.rs")}
        if (manifest.parent / "src/main.rs").exists():
            names.add(name)
        bins[name] = names
    return bins


def check_dockerfile(root: Path) -> list[str] | str:
    """No Docker daemon here: the Dockerfile is checked by reading it. Multi-stage, the
    binaries it builds exist in the workspace, the runtime stage runs as a numeric non-root
    user with ENTRYPOINT ["herald"], and .dockerignore keeps what the build needs."""
    problems: list[str] = []
    steps = dockerfile_instructions((root / "Dockerfile").read_text())
    stages = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    if len(stages) < 2:
        problems.append("not a multi-stage build")
    final = steps[stages[-1]:] if stages else steps
    users = [arg for word, arg in final if word == "USER"]
    if not users or not re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]):
        problems.append(f"the runtime stage's USER is not a numeric non-root user: {users}")
    entry = [arg for word, arg in final if word == "ENTRYPOINT"]
    if not entry or json.loads(entry[-1]) != ["herald"]:
        problems.append(f'ENTRYPOINT is not ["herald"]: {entry}')
    bins = workspace_bins(root)
    built: set[str] = set()
    for word, arg in steps:
        if word != "RUN" or "cargo build" not in arg:
            continue
        words = arg.split()
        package = None
        for i, w in enumerate(words):
            if w == "-p":
                package = words[i + 1]
                if package not in bins:
                    problems.append(f"cargo build -p {package}: no such package under crates/")
            if w == "--bin":
                if package is None or words[i + 1] not in bins.get(package, set()):
                    problems.append(f"cargo build -p {package} --bin {words[i + 1]}: no such binary")
                built.add(words[i + 1])
        if "protobuf-compiler" not in " ".join(a for w, a in steps[: stages[-1]] if w == "RUN"):
            problems.append("the build stage does not install protobuf-compiler (protoc)")
    for needed in ("herald", "heraldctl"):
        if needed not in built:
            problems.append(f"{needed} is not built")
    ignored = [l.strip() for l in (root / ".dockerignore").read_text().splitlines()
               if l.strip() and not l.startswith("#")]
    workspace = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["members"]
    needed_paths = {"Cargo.toml", "Cargo.lock", "proto", "crates", *[m.split("/")[0] for m in workspace]}
    for pattern in ignored:
        if pattern.strip("/") in needed_paths:
            problems.append(f".dockerignore drops {pattern}, which the build needs")
    for word, arg in final:
        if word == "COPY" and "--from" not in arg:
            for src in arg.split()[:-1]:
                if not (root / src).exists():
                    problems.append(f"COPY {src}: not in the repository")
    return problems or f"{len(stages)} stages, builds {', '.join(sorted(built))}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2])
    parser.add_argument("--herald", help="herald binary for check-config (none: skipped)")
    parser.add_argument("--kubectl", default="kubectl")
    args = parser.parse_args()
    root: Path = args.root
    chart_dir = root / "helm/herald"
    here = root / "scripts/check-chart"
    run = Runner()

    import helm_python as helm
    import shutil

    nats_server = shutil.which("nats-server")
    run.check("Dockerfile (read, not built: no Docker daemon)", lambda: check_dockerfile(root))

    # Lint: the chart (with each ci values file) and each vendored subchart on its own, as
    # `helm lint` does not descend into charts/.
    def lint(path: Path, values: dict | None = None) -> list[str]:
        report = helm.lint(str(path), values, strict=True, kube_version=HELM_KUBE_VERSION)
        out = [f"{m['path']}: {m['error']}" for m in report.get("messages", []) if m.get("severity", 0) >= 2]
        return out + list(report.get("errors") or [])

    ci_files = sorted(chart_dir.glob("ci/*.yaml"))
    run.check("helm lint helm/herald", lambda: lint(chart_dir))
    for sub in sorted(p for p in (chart_dir / "charts").iterdir() if (p / "Chart.yaml").exists()):
        run.check(f"helm lint {sub.relative_to(root)}", lambda sub=sub: lint(sub))
    for f in ci_files:
        run.check(f"helm lint helm/herald -f {f.relative_to(chart_dir)}", lambda f=f: lint(chart_dir, read_values(f)))

    def deps() -> list[str]:
        return [f"dependency {d['name']}: {d['status']}" for d in helm.dependency_list(str(chart_dir))
                if d["status"] not in ("ok", "unpacked")]
    run.check("chart dependencies vendored in helm/herald/charts", deps)

    def check_objects(label: str, objs: list[dict]) -> None:
        def validate() -> list[str] | str:
            problems = validate_all(objs)
            return problems or f"{len(objs)} objects"
        run.check(f"kubernetes-validate --strict {KUBE_VERSION} + prometheus-operator models: {label}", validate)

        def refs() -> list[str] | str:
            problems, external = check_references(objs)
            return problems or (f"expects existing Secrets {', '.join(external)}" if external else "")
        run.check(f"references (selectors, ConfigMaps, Secrets, ports): {label}", refs)
        if args.herald:
            def herald_check() -> list[str] | str:
                problems, n = check_herald_configs(objs, args.herald)
                if not problems and n == 0:
                    return ["no Herald container found"]
                return problems or f"{n} Deployments"
            run.check(f"herald check-config of each Deployment: {label}", herald_check)

    for f in ci_files:
        label = f"helm/herald -f {f.relative_to(chart_dir)}"
        rendered: dict[str, list[dict]] = {}

        def do_render(f: Path = f) -> str:
            rendered["objs"] = render(chart_dir, read_values(f))
            return f"{len(rendered['objs'])} objects"
        run.check(f"helm template {label}", do_render)
        if "objs" not in rendered:
            continue
        check_objects(label, rendered["objs"])
        run.check(f"expected objects: {label}",
                  lambda f=f: chart_expectations(f.name, chart_dir, rendered["objs"]))
        run.check(f"bundled NATS and etcd: {label}", lambda: check_bundled(rendered["objs"], nats_server))

    # values.schema.json must reject bad values; templates must refuse impossible ones.
    def must_fail(path: Path, error_type: type) -> list[str]:
        try:
            render(chart_dir, read_values(path))
        except error_type:
            return []
        except Exception as error:
            return [f"failed, but with {type(error).__name__} instead of {error_type.__name__}: {error}"]
        return ["rendered, but should have been refused"]
    for f in sorted((here / "bad-values").glob("*.yaml")):
        run.check(f"values.schema.json rejects {f.relative_to(root)}", lambda f=f: must_fail(f, helm.HelmValuesError))
    for f in sorted((here / "bad-render").glob("*.yaml")):
        run.check(f"the chart refuses {f.relative_to(root)}", lambda f=f: must_fail(f, helm.HelmRenderError))

    # The kustomize manifests.
    for overlay in ("k8s/base", "k8s/overlays/example"):
        built: dict[str, list[dict]] = {}

        def kustomize(overlay: str = overlay) -> list[str] | str:
            done = subprocess.run([args.kubectl, "kustomize", str(root / overlay)],
                                  capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                return [done.stderr.strip() or f"exit {done.returncode}"]
            built["objs"] = load_docs(done.stdout)
            return f"{len(built['objs'])} objects"
        run.check(f"kubectl kustomize {overlay}", kustomize)
        if "objs" in built:
            check_objects(overlay, built["objs"])

    print(f"check-chart: {run.passed} passed, {len(run.failed)} failed")
    if not args.herald:
        print("check-chart: herald check-config skipped (no herald binary)")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
