#!/usr/bin/env python3
"""The checks of scripts/check-chart.sh: the Helm chart (helm/herald) and the kustomize
manifests (k8s/), without a cluster.

One line per check, `ok` or `FAIL`, with the problems indented below a failure; the exit
code is 1 when any check failed. Run through scripts/check-chart.sh, which installs the
tools (requirements.txt) into .tools/chart/venv and passes the herald binary.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Any, Callable

import yaml

KUBE_VERSION = "1.33"
HELM_KUBE_VERSION = "v1.33.0"
RELEASE = "herald"
NAMESPACE = "herald"
# Herald's config keys naming files that must exist (docs/configuration.md).
FILE_KEYS = (
    "nats.password.file",
    "nats.tls.ca",
    "nats.tls.cert",
    "nats.tls.key",
    "edge.tls.cert",
    "edge.tls.key",
    "nats.credentials",
    "etcd.tls.ca",
    "etcd.tls.cert",
    "etcd.tls.key",
    "control.tokens_file",
    "grpc.token_file",
    "grpc.tls.cert",
    "grpc.tls.key",
    "grpc.tls.ca",
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
    """Selectors, names and ports that must meet. Returns (problems, what is expected to exist:
    Secrets by name, ServiceAccounts as "ServiceAccount <name>")."""
    problems: list[str] = []
    by_kind: dict[str, dict[str, dict]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    configmaps = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})
    external_secrets: set[str] = set()
    external_accounts: set[str] = set()
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
            # A render that makes no ServiceAccount (serviceAccount.create off) runs as one
            # that must exist; one that makes some must make the one its pods name.
            if sa not in by_kind.get("ServiceAccount", {}) and sa != "default":
                if by_kind.get("ServiceAccount"):
                    problems.append(f"{wname}: ServiceAccount {sa} is not defined")
                else:
                    external_accounts.add(sa)
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
    return problems, sorted(external_secrets) + [f"ServiceAccount {sa}" for sa in sorted(external_accounts)]


# ------------------------------------------------------------------ herald check-config

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


def check_herald_configs(objs: list[dict], herald: str) -> tuple[list[str], str]:
    """Runs `herald check-config` on what each Herald Deployment's container would load: its
    herald.toml from the ConfigMap, its environment (HERALD_* variables, envFrom) and --set
    flags, and the files of its ConfigMap and Secret volumes (node token, NodeService
    certificate, NATS password, etcd certificates, ...) laid out under a temporary root at
    the paths the pod sees them, the absolute paths into the mounts rewritten to that root.
    Secrets the render does not make (the operator's) get stand-ins. Each must exit 0, and
    load every HERALD_ variable it is given. Then the refusals: every file the config names
    must lie in a mount, and deleted, make check-config exit 64 naming its key; without
    grpc.token_file, a NodeService on a non-loopback address must be refused (64) too."""
    problems: list[str] = []
    checked = refused = 0
    for workload, template in pod_templates(objs):
        spec = template["spec"]
        containers = spec.get("containers", [])
        for i, c in enumerate(containers):
            args = c.get("args", [])
            if "--config" not in args or not set(args) & set(HERALD_ROLES):
                continue
            wname = name_of(workload)
            if i != 0:
                problems.append(f"{wname}: Herald is not the first container")
                continue
            config_path = args[args.index("--config") + 1]
            with tempfile.TemporaryDirectory(prefix="check-chart-") as tmp:
                pod = PodFiles(Path(tmp), objs, workload, empty_dirs=True)
                if config_path not in pod.mounts:
                    problems.append(f"{wname}: no ConfigMap of this render is mounted at {config_path}")
                    continue
                conf = pod.path(config_path)
                text = conf.read_text()
                toml = tomllib.loads(text)
                rewritten = pod.rewrite(text)
                conf.write_text(rewritten)
                env = dict(pod.env)
                run_env = {k: pod.rewrite(v) for k, v in pod.run_env().items()}
                run_env["HOME"] = tmp
                run_env.pop("HERALD_CONFIG", None)
                role = next(a for a in args if a in HERALD_ROLES)
                cmd = [herald] + ["check-config" if a == role else a if a == str(conf) else pod.rewrite(a)
                                  for a in pod.args(c, config_path, conf)]

                def run(run_env: dict[str, str] = run_env) -> subprocess.CompletedProcess:
                    return subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=60)

                done = run()
                checked += 1
                label = f"{wname} ({role})"
                if done.returncode != 0:
                    problems.append(f"{label}: herald check-config exited {done.returncode}:\n" + done.stderr.strip())
                    continue
                loaded = tomllib.loads(done.stdout)
                for var, value in env.items():
                    if not var.startswith("HERALD_") or var == "HERALD_CONFIG":
                        continue
                    node: Any = loaded
                    for part in var[len("HERALD_"):].lower().split("__"):
                        node = node.get(part) if isinstance(node, dict) else None
                    if node is None:
                        problems.append(f"{label}: {var} is not in the config check-config loaded")
                    elif isinstance(node, (str, int)) and not isinstance(node, bool) \
                            and str(node) != run_env[var]:
                        problems.append(f"{label}: {var}={run_env[var]!r}, but check-config loaded {node!r}")

                mounts = [m["mountPath"].rstrip("/") + "/" for m in c.get("volumeMounts", [])]
                for file_key in FILE_KEYS:
                    value = _key_set(toml, env, file_key)
                    if value is None:
                        continue
                    if not any(value.startswith(m) for m in mounts):
                        problems.append(f"{label}: {file_key} = {value} is in no volume mounted into the container")
                        continue
                    target = pod.path(value)
                    saved = target.read_bytes()
                    target.unlink()
                    done = run()
                    target.write_bytes(saved)
                    key = file_key.removesuffix(".file")
                    if done.returncode != 64 or key not in done.stderr:
                        problems.append(f"{label}: without {value} ({file_key}) check-config exited "
                                        f"{done.returncode}, not 64 naming {key}:\n{done.stderr.strip()}")
                    else:
                        refused += 1
                # The node token is what lets NodeService listen beyond loopback.
                listen = str(_key_set(toml, env, "grpc.listen") or "")
                if _key_set(toml, env, "grpc.token_file") and not listen.startswith(("127.", "[::1]", "localhost")):
                    var = "HERALD_GRPC__TOKEN_FILE"
                    conf.write_text(re.sub(r"(?m)^token_file = .*\n", "", rewritten))
                    done = run({k: v for k, v in run_env.items() if k != var})
                    conf.write_text(rewritten)
                    if done.returncode != 64 or "grpc.token_file" not in done.stderr:
                        problems.append(f"{label}: without grpc.token_file, NodeService on {listen} was not refused "
                                        f"(exit {done.returncode}):\n{done.stderr.strip()}")
                    else:
                        refused += 1
    if not problems and checked == 0:
        problems.append("no Herald container found")
    return problems, (f"{checked} Deployments load their pod's files and exit 0; {refused} cases without a "
                      f"mounted file or the node token exit 64")


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
            peer_scheme = args["--listen-peer-urls"].split("://", 1)[0]
            want = {f"{name}-{i}": f"{peer_scheme}://{pods[i]}:{args['--listen-peer-urls'].rsplit(':', 1)[1]}"
                    for i in range(replicas)}
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
                    # The pod's files (nats.conf, the auth.conf it includes, certificates) and
                    # environment (the users' passwords), laid out as the kubelet would.
                    pod = PodFiles(Path(tmp), objs, sts)
                    conf_path = pod.path("/etc/nats/nats.conf")
                    conf_path.write_text(pod.rewrite(conf_path.read_text()))
                    done = subprocess.run([nats_server, "-t", *pod.args(container, "/etc/nats/nats.conf", conf_path)],
                                          capture_output=True, text=True, env=pod.run_env(), timeout=30)
                    if done.returncode != 0:
                        problems.append(f"nats-server -t: {(done.stderr or done.stdout).strip()}")
                notes.append(f"NATS {replicas} server(s), nats-server -t ok")
            else:
                notes.append(f"NATS {replicas} server(s) (no nats-server here to test nats.conf)")
    return problems or ", ".join(notes) or "none bundled"


# ------------------------------------------------------------------ pods' files, live servers

_PORTS_GIVEN: set[int] = set()


def free_port() -> int:
    """A loopback port free now, drawn from below the kernel's ephemeral range: one inside
    it can become some process's outgoing connection (or `:0` listener) before our server
    binds it. Never the same port twice in one run."""
    import random
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    for _ in range(10000):
        port = random.randint(10000, max(12000, ephemeral_low - 1))
        if port in _PORTS_GIVEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _PORTS_GIVEN.add(port)
        return port
    raise SystemExit("no free loopback port below the ephemeral range")


def self_signed(tmp: Path, name: str) -> tuple[bytes, bytes]:
    """A throw-away certificate and key (PEM) for Secrets the render does not hold."""
    key, crt = tmp / f"{name}.key", tmp / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={name}", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True, timeout=60)
    return crt.read_bytes(), key.read_bytes()


def secret_data(secret: dict) -> dict[str, bytes]:
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    data.update({k: v.encode() for k, v in (secret.get("stringData") or {}).items()})
    return data


def given_value(name: str, key: str) -> bytes:
    """What stands in for a key of a Secret the operator provides: a password with the
    characters a config language might trip on (space, #, quotes aside)."""
    return f"given {name}/{key} #1,$x".encode()


class PodFiles:
    """The files a pod's first container sees (its ConfigMap and Secret volumes under a
    fake root in `tmp`) and its environment, from the render; Secrets the render does not
    make (the operator's) get stand-ins: a self-signed pair for .crt/.key, else
    `given_value`."""

    def __init__(self, tmp: Path, objs: list[dict], workload: dict, empty_dirs: bool = False) -> None:
        self.root = tmp / "root"
        self.tmp = tmp
        by_kind: dict[str, dict[str, dict]] = {}
        for o in objs:
            by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
        self.secrets = {n: secret_data(o) for n, o in by_kind.get("Secret", {}).items()}
        self.given: dict[str, dict[str, bytes]] = {}
        configmaps = by_kind.get("ConfigMap", {})
        self.configmaps = configmaps
        spec = workload["spec"]["template"]["spec"]
        container = spec["containers"][0]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        pair: tuple[bytes, bytes] | None = None
        self.mounts: list[str] = []
        for mount in container.get("volumeMounts", []):
            volume = volumes.get(mount["name"], {})
            target = self.path(mount["mountPath"])
            files: dict[str, bytes] = {}
            if "configMap" in volume:
                if volume["configMap"]["name"] not in configmaps:
                    continue  # not of this render: check_references says so
                data = {k: v.encode() for k, v in (configmaps[volume["configMap"]["name"]].get("data") or {}).items()}
                items = volume["configMap"].get("items") or [{"key": k, "path": k} for k in data]
                files = {i["path"]: data[i["key"]] for i in items}
            elif "secret" in volume:
                name = volume["secret"]["secretName"]
                # Without items, every key of the Secret (of the render's; the operator's
                # keys are unknown).
                items = volume["secret"].get("items") or [{"key": k, "path": k} for k in self.secrets.get(name, {})]
                for i in items:
                    files[i["path"]] = self.secret_value(name, i["key"])
            elif "emptyDir" in volume and empty_dirs:
                pass
            else:
                continue
            self.mounts.append(mount["mountPath"])
            if "subPath" in mount:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(files[mount["subPath"]])
                continue
            target.mkdir(parents=True, exist_ok=True)
            for path, content in files.items():
                (target / path).write_bytes(content)
        self.env = self.container_env(container, workload["metadata"]["name"] + "-0")

    def secret_value(self, name: str, key: str) -> bytes:
        if name in self.secrets:
            return self.secrets[name][key]
        given = self.given.setdefault(name, {})
        if key not in given:
            if key.endswith(".crt") or key.endswith(".key"):
                crt, pem = self_signed(self.tmp, name)
                for k in ("tls.crt", "ca.crt"):
                    given.setdefault(k, crt)
                given.setdefault("tls.key", pem)
            given.setdefault(key, given_value(name, key))
        return given[key]

    def container_env(self, container: dict, pod_name: str) -> dict[str, str]:
        env: dict[str, str] = {}
        fields = {"metadata.name": pod_name, "status.podIP": "127.0.0.1", "metadata.namespace": NAMESPACE}
        for ef in container.get("envFrom", []):
            prefix = ef.get("prefix", "")
            if ref := (ef.get("configMapRef") or {}).get("name"):
                data = (self.configmaps.get(ref) or {}).get("data") or {}
                env.update({prefix + k: str(v) for k, v in data.items()})
            elif ref := (ef.get("secretRef") or {}).get("name"):
                env.update({prefix + k: v.decode() for k, v in self.secrets.get(ref, {}).items()})
        for e in container.get("env", []):
            source = e.get("valueFrom") or {}
            if "value" in e:
                env[e["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                                        lambda m: env.get(m.group(1), m.group(0)), str(e["value"]))
            elif "fieldRef" in source:
                env[e["name"]] = fields.get(source["fieldRef"]["fieldPath"], "x")
            elif "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                env[e["name"]] = self.secret_value(ref["name"], ref["key"]).decode()
        return env

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def rewrite(self, text: str) -> str:
        """Absolute paths into the mounts, made paths under the fake root: in one pass (the
        fake root may itself lie under a mount path such as /tmp), the longest mount first,
        where a path starts."""
        if not self.mounts:
            return text
        prefixes = sorted((m.rstrip("/") + "/" for m in self.mounts), key=len, reverse=True)
        pattern = re.compile(r"(?<![\w./-])(" + "|".join(re.escape(m) for m in prefixes) + ")")
        return pattern.sub(lambda m: str(self.path(m.group(1))) + "/", text)

    def run_env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **self.env}

    def args(self, container: dict, conf: str, path: Path) -> list[str]:
        """The container's arguments, $(VAR) expanded as the kubelet does, with the config
        file at `path`."""
        out = []
        for arg in container.get("args", []):
            arg = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: self.env.get(m.group(1), m.group(0)), arg)
            out.append(str(path) if arg == conf else arg)
        return out


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` one token, `>` one or more at the end."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def concrete(pattern: str) -> str:
    """A subject a pattern matches."""
    return ".".join("x" if t == "*" else "x.y" if t == ">" else t for t in pattern.split("."))


def nats_talk(port: int, user: str | None, password: str | None, publish: list[str]) -> str:
    """Connects over the NATS protocol (TLS when the server asks for it, any certificate),
    as `user`, publishes an empty message to each of `publish`, pings; what the server said."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    reader = sock.makefile("rb")
    info = json.loads(reader.readline().decode().split(" ", 1)[1])
    if info.get("tls_required"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock)
        reader = sock.makefile("rb")
    connect: dict[str, Any] = {"verbose": False, "pedantic": False, "protocol": 1}
    if user is not None:
        connect.update(user=user, **{"pass": password})
    out = f"CONNECT {json.dumps(connect)}\r\n" + "".join(f"PUB {s} 0\r\n\r\n" for s in publish) + "PING\r\n"
    sock.sendall(out.encode())
    said = []
    while True:
        line = reader.readline().decode()
        if not line:
            break
        said.append(line.strip())
        if line.startswith("PONG") or "Authorization Violation" in line:
            break
    sock.close()
    return "\n".join(said)


def read_permissions(chart_dir: Path) -> dict:
    return yaml.safe_load((chart_dir / "files/nats-permissions.yaml").read_text())


def partitioned_subjects(subjects: list[str], partitioned: dict, count: int) -> list[str]:
    """Each subject, followed (when it names a partitioned bucket or stream) by the same
    subject for every partition past the first: `<bucket>_p<i>`, `<STREAM>_P<i>` and
    `herald.<token>-p<i>.` (ADR 0021, 0022), as the chart's herald.partitionedSubjects."""
    out: list[str] = []
    for subject in subjects:
        out.append(subject)
        for i in range(1, count):
            marked = subject
            for bucket in partitioned.get("buckets") or []:
                marked = marked.replace(bucket, f"{bucket}_p{i}")
            for stream, token in sorted((partitioned.get("streams") or {}).items()):
                marked = marked.replace(stream, f"{stream}_P{i}")
                marked = marked.replace(f"herald.{token}.", f"herald.{token}-p{i}.")
            if marked != subject:
                out.append(marked)
    return out


def declared_partitions(toml: dict) -> int:
    """How many partitions of each partitioned bucket a node with this herald.toml declares."""
    nats = toml.get("nats", {})
    return max(int(nats.get("partitions", 1)), int(nats.get("partitions_also_read", 1)))


def allowed(permissions: dict, role: str, partitions: int = 1) -> dict[str, list[str]]:
    """A role's allow lists as the chart renders them: common, then its own, each once,
    with every partition of the partitioned buckets."""
    own = permissions["roles"][role] or {}
    partitioned = permissions.get("partitioned") or {}
    out: dict[str, list[str]] = {}
    for kind in ("publish", "subscribe"):
        seen: list[str] = []
        for lists in (permissions["common"], own):
            for s in partitioned_subjects(lists.get(kind) or [], partitioned, partitions):
                if s not in seen:
                    seen.append(s)
        out[kind] = seen
    return out


def rendered_users(auth_conf: str) -> dict[str, dict[str, list[str]]]:
    """The users of the chart's auth.conf and their allow lists (the layout nats-auth.yaml
    writes: one quoted subject a line)."""
    users: dict[str, dict[str, list[str]]] = {}
    user, kind = None, None
    for line in auth_conf.splitlines():
        line = line.strip()
        if m := re.fullmatch(r'user: "([^"]+)"', line):
            user, kind = m.group(1), None
            users[user] = {"publish": [], "subscribe": []}
        elif line.startswith("publish:") or line.startswith("subscribe:"):
            kind = line.split(":")[0]
        elif user and kind and re.fullmatch(r'"[^"]*"', line):
            users[user][kind].append(json.loads(line))
    return users


def check_nats_auth(chart_dir: Path, objs: list[dict], nats_server: str | None) -> list[str] | str:
    """The bundled NATS's users (nats.auth): the rendered auth.conf gives each role exactly
    common + its own lists of files/nats-permissions.yaml; every Herald Deployment mounts
    only its own password and connects as its role; a real nats-server started with the
    pod's files and environment lets each role in with its password, refuses wrong ones and
    anonymous clients, and refuses a role what only others may publish."""
    sts = next((o for o in objs if o["kind"] == "StatefulSet"
                and o["spec"]["template"]["spec"]["containers"][0]["name"] == "nats"), None)
    if sts is None:
        return "no bundled NATS"
    name = sts["metadata"]["name"]
    configmaps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    auth = configmaps.get(f"{name}-auth")
    conf = configmaps[f"{name}-config"]["data"]["nats.conf"]
    deployments = {d["metadata"]["name"]: d for d in objs if d["kind"] == "Deployment"}
    full = herald_fullname(objs)
    heralds = {role: deployments[f"{full}-{role}"] for role in HERALD_ROLES if f"{full}-{role}" in deployments}
    tomls = {role: tomllib.loads(configmaps[f"{full}-config"]["data"][f"herald-{role}.toml"]) for role in heralds}
    problems: list[str] = []
    if auth is None:
        # nats.auth off: the open NATS of before, and no role sends credentials.
        if "authorization" in conf or "include" in conf:
            problems.append("nats.conf has users, but there is no auth ConfigMap")
        for role, toml in tomls.items():
            if {"user", "password"} & set(toml.get("nats", {})):
                problems.append(f"{role}: herald.toml has NATS credentials, but NATS has no users")
        env = [e["name"] for e in sts["spec"]["template"]["spec"]["containers"][0].get("env", [])]
        if any(e.startswith("NATS_PASSWORD_") for e in env):
            problems.append("NATS has password variables, but no users")
        return problems or "off: no users, no credentials"

    permissions = read_permissions(chart_dir)
    users = rendered_users(auth["data"]["auth.conf"])
    # The operators' user (nats.auth.admin): no permissions block, allowed everything.
    admin = users.pop("admin", None)
    if admin is not None and (admin["publish"] or admin["subscribe"]):
        problems.append("the admin user has permission lists")
    if sorted(users) != sorted(permissions["roles"]):
        problems.append(f"auth.conf has the users {sorted(users)}, files/nats-permissions.yaml the roles "
                        f"{sorted(permissions['roles'])}")
    for role in users:
        partitions = declared_partitions(tomls[role]) if role in tomls else 1
        if role in permissions["roles"] and users[role] != allowed(permissions, role, partitions):
            problems.append(f"auth.conf: {role}'s lists are not common + its own of files/nats-permissions.yaml "
                            f"with {partitions} partition(s)")
    if 'include "../nats-auth/auth.conf"' not in conf:
        problems.append("nats.conf does not include ../nats-auth/auth.conf")

    # Each role: its own key of the passwords Secret, nothing else of it; user = role.
    spec = sts["spec"]["template"]["spec"]
    secret_refs = {(e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
                   for e in spec["containers"][0].get("env", []) if "secretKeyRef" in (e.get("valueFrom") or {})}
    passwords_secret = next(iter({n for n, _ in secret_refs}), None)
    replicas = sts["spec"]["replicas"]
    want_keys = set(users) | ({"route"} if replicas > 1 else set()) | ({"admin"} if admin is not None else set())
    if {k for _, k in secret_refs} != want_keys:
        problems.append(f"NATS takes passwords for {sorted(k for _, k in secret_refs)}, not {sorted(want_keys)}")
    args = spec["containers"][0].get("args", [])
    if replicas > 1:
        # The routes, each with the route user and password, to every server by its name.
        routes = args[args.index("--routes") + 1].split(",") if "--routes" in args else []
        pods = [f"{name}-{i}.{sts['spec']['serviceName']}.{NAMESPACE}.svc" for i in range(replicas)]
        hosts = [r.split("@", 1)[-1].rsplit(":", 1)[0].rsplit(".", 2)[0] for r in routes]
        if hosts != pods or not all(r.startswith("nats://route:$(NATS_ROUTE_PASSWORD_RAW)@") for r in routes):
            problems.append(f"--routes {routes} are not the route user to every server {pods}")
        if 'password: $NATS_ROUTE_PASSWORD' not in conf:
            problems.append("the cluster block of nats.conf does not ask routes for a password")
    for role, d in heralds.items():
        pod = d["spec"]["template"]["spec"]
        mounted = [v for v in pod.get("volumes", []) if (v.get("secret") or {}).get("secretName") == passwords_secret]
        keys = [i["key"] for v in mounted for i in (v["secret"].get("items") or [{"key": "*all*"}])]
        if keys != [role]:
            problems.append(f"{role}: mounts the keys {keys} of the NATS passwords Secret, not only its own")
        nats = tomls[role].get("nats", {})
        if nats.get("user") != role:
            problems.append(f"{role}: nats.user is {nats.get('user')!r}")
        password = (nats.get("password") or {}).get("file", "")
        mount = next((m for m in pod["containers"][0].get("volumeMounts", [])
                      if mounted and m["name"] == mounted[0]["name"]), None)
        if not mount or not password.startswith(mount["mountPath"].rstrip("/") + "/"):
            problems.append(f"{role}: nats.password {password!r} is not in its password mount")

    if not nats_server:
        return problems or f"{len(users)} users (no nats-server here to try them)"
    with tempfile.TemporaryDirectory() as tmp:
        pod = PodFiles(Path(tmp), objs, sts)
        conf_path = pod.path("/etc/nats/nats.conf")
        rendered = pod.rewrite(conf_path.read_text())
        servers: list[subprocess.Popen] = []

        def start(label: str, routes: str | None = None) -> tuple[int, int, int]:
            """A server from the rendered files and environment on loopback ports (its own
            store, and with `routes` its own cluster port and these routes)."""
            text = re.sub(r"store_dir: .*", f"store_dir: {json.dumps(str(Path(tmp, label)))}", rendered)
            text = re.sub(r"pid_file: .*", f"pid_file: {json.dumps(str(Path(tmp, label + '.pid')))}", text)
            port, monitor, cluster = free_port(), free_port(), free_port()
            # The cluster port in the file: a --cluster flag would drop the file's route
            # authorization.
            text = re.sub(r"(cluster \{\s*\n\s*name: [^\n]*\n\s*)port: \d+", f'\\1listen: "127.0.0.1:{cluster}"', text)
            path = conf_path.with_name(f"nats-{label}.conf")
            path.write_text(text)
            command = [nats_server, "-c", str(path), "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor)]
            if routes is not None:
                command += ["--routes", routes.format(cluster=cluster)]
            server = subprocess.Popen(command, env={**pod.run_env(), "POD_NAME": f"{name}-{label}"},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            servers.append(server)
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return port, monitor, cluster
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"nats-server did not start: {server.stderr.read() if server.stderr else ''}")
                    time.sleep(0.1)

        try:
            port, monitor, cluster = start("a", "nats://127.0.0.1:{cluster}" if replicas > 1 else None)
            if replicas > 1:
                # Routes: a server with the route password joins; one with a wrong one does not.
                route = pod.secret_value(passwords_secret, "route").decode()
                start("b", f"nats://route:{route}@127.0.0.1:{cluster}")
                start("c", f"nats://route:{route}x@127.0.0.1:{cluster}")
                deadline = time.monotonic() + 20
                joined: list[str] = []
                while time.monotonic() < deadline:
                    with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/routez", timeout=2) as r:
                        joined = sorted(x.get("remote_name", "") or x.get("remote_id", "")
                                        for x in json.loads(r.read()).get("routes") or [])
                    if any(j.endswith("-b") for j in joined):
                        time.sleep(2)
                        break
                    time.sleep(0.2)
                with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/routez", timeout=2) as r:
                    joined = sorted(x.get("remote_name", "") for x in json.loads(r.read()).get("routes") or [])
                if not any(j.endswith("-b") for j in joined):
                    problems.append(f"a server with the route password did not join: routes {joined}")
                if any(j.endswith("-c") for j in joined):
                    problems.append(f"a server with a wrong route password joined: routes {joined}")
            for role in users:
                password = pod.secret_value(passwords_secret, role).decode()
                own = users[role]["publish"]
                others = [concrete(s) for r in users if r != role for s in users[r]["publish"]]
                forbidden = [s for s in dict.fromkeys(others) if not any(subject_matches(p, s) for p in own)][:3]
                said = nats_talk(port, role, password, [concrete(own[0])])
                if "PONG" not in said or "-ERR" in said:
                    problems.append(f"{role} with its password, publishing {concrete(own[0])}: {said!r}")
                said = nats_talk(port, role, password, forbidden)
                for subject in forbidden:
                    if f'Permissions Violation for Publish to "{subject}"' not in said:
                        problems.append(f"{role} was not refused publishing {subject}: {said!r}")
                said = nats_talk(port, role, password + "x", [])
                if "Authorization Violation" not in said:
                    problems.append(f"{role} got in with a wrong password: {said!r}")
            if admin is not None:
                password = pod.secret_value(passwords_secret, "admin").decode()
                anything = ["herald.out.x", "$JS.API.STREAM.INFO.HERALD_MT", "herald.mt.x"]
                said = nats_talk(port, "admin", password, anything)
                if "PONG" not in said or "-ERR" in said:
                    problems.append(f"the admin user was refused: {said!r}")
            if "Authorization Violation" not in nats_talk(port, None, None, []):
                problems.append("an anonymous client got in")
        except RuntimeError as error:
            problems.append(str(error))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)
    routes = "; cluster routes need the route password" if replicas > 1 else ""
    operators = "; an admin user for operators" if admin is not None else ""
    return problems or (f"{len(users)} users, each let in with its own password and refused the others' "
                        f"subjects{routes}{operators}")


def _tls_context(ca: Path, cert: Path | None, key: Path | None, hostname_check: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = hostname_check
    if cert and key:
        context.load_cert_chain(str(cert), str(key))
    return context


def _handshake(port: int, context: ssl.SSLContext, server_hostname: str) -> str | None:
    """None when a TLS handshake (and one read, where the server refuses a client without a
    certificate after TLS 1.3's handshake) succeeds, else the error."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
                tls.sendall(b"GET /version HTTP/1.0\r\n\r\n")
                if not tls.recv(1):
                    return "closed"
        return None
    except (ssl.SSLError, OSError) as error:
        return f"{type(error).__name__}: {error}"


def check_etcd_tls(objs: list[dict], etcd: str | None) -> list[str] | str:
    """The bundled etcd's TLS (etcd.tls): client URLs https with --client-cert-auth, Herald's
    endpoints https with [etcd.tls] ca, cert and key from a mounted Secret; the generated
    server certificate names every member, the Service and the clusterDomain, and chains to
    the CA with Herald's client certificate. With etcd installed, a real etcd started with the
    rendered TLS flags and certificates serves Herald's client certificate (checking the
    server's name as each member and the Service), refuses no certificate and a stranger's,
    and (peer TLS) admits a member's certificate on the peer port and nothing else."""
    sts = next((o for o in objs if o["kind"] == "StatefulSet"
                and o["spec"]["template"]["spec"]["containers"][0]["name"] == "etcd"), None)
    if sts is None:
        return "no bundled etcd"
    name = sts["metadata"]["name"]
    container = sts["spec"]["template"]["spec"]["containers"][0]
    args = dict(a.split("=", 1) for a in container.get("args", []) if "=" in a)
    configmaps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    tomls = {role: tomllib.loads(text) for role in HERALD_ROLES
             if (text := (configmaps.get(f"{herald_fullname(objs)}-config", {}).get("data") or {}).get(f"herald-{role}.toml"))}
    problems: list[str] = []
    if args.get("--client-cert-auth") != "true":
        # etcd.tls off: plain HTTP, as before.
        if any(v.startswith("https://") for k, v in args.items() if k.endswith("-urls")):
            problems.append("https URLs without --client-cert-auth")
        for role, toml in tomls.items():
            etcd_cfg = toml.get("etcd", {})
            if "tls" in etcd_cfg or any(e.startswith("https://") for e in etcd_cfg.get("endpoints", [])):
                problems.append(f"{role}: etcd over TLS, but etcd serves plain HTTP")
        return problems or "off: plain HTTP"

    for flag in ("--listen-client-urls", "--advertise-client-urls"):
        if not args.get(flag, "").startswith("https://"):
            problems.append(f"{flag} is not https: {args.get(flag)}")
    peer = args.get("--peer-client-cert-auth") == "true"
    for role, toml in tomls.items():
        etcd_cfg = toml.get("etcd", {})
        if not all(e.startswith("https://") for e in etcd_cfg.get("endpoints", [])):
            problems.append(f"{role}: etcd.endpoints are not https: {etcd_cfg.get('endpoints')}")
        if set(etcd_cfg.get("tls", {})) != {"ca", "cert", "key"}:
            problems.append(f"{role}: [etcd.tls] is not ca, cert and key: {etcd_cfg.get('tls')}")

    secrets = {o["metadata"]["name"]: secret_data(o) for o in objs if o["kind"] == "Secret"}
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"].get("volumes", [])}
    server_secret = volumes.get("tls", {}).get("secret", {}).get("secretName")
    client_secret = next((v["secret"]["secretName"] for o in objs if o["kind"] == "Deployment"
                          for v in o["spec"]["template"]["spec"].get("volumes", []) if v["name"] == "etcd-tls"), None)
    if server_secret not in secrets or client_secret not in secrets:
        return problems or f"certificates from the operator's Secrets {server_secret}, {client_secret}"
    server, client = secrets[server_secret], secrets[client_secret]
    replicas = sts["spec"]["replicas"]
    headless = sts["spec"]["serviceName"]
    domain = args["--advertise-client-urls"].split("svc.", 1)[1].rsplit(":", 1)[0]
    members = [f"{name}-{i}.{headless}.{NAMESPACE}.svc.{domain}" for i in range(replicas)]
    names = members + [name, f"{name}.{NAMESPACE}", f"{name}.{NAMESPACE}.svc", f"{name}.{NAMESPACE}.svc.{domain}",
                       f"{name}-{replicas + 1}.{headless}.{NAMESPACE}.svc.{domain}"]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        files = {}
        for label, data in (("server", server), ("client", client)):
            for key in ("ca.crt", "tls.crt", "tls.key"):
                files[f"{label}/{key}"] = d / f"{label}-{key}"
                files[f"{label}/{key}"].write_bytes(data[key])
        if server["ca.crt"] != client["ca.crt"]:
            problems.append(f"{server_secret} and {client_secret} have different CAs")
        for label in ("server", "client"):
            done = subprocess.run(["openssl", "verify", "-CAfile", str(files[f"{label}/ca.crt"]),
                                   str(files[f"{label}/tls.crt"])], capture_output=True, text=True, timeout=30)
            if done.returncode != 0:
                problems.append(f"the {label} certificate does not chain to the CA: {done.stdout}{done.stderr}")
        for host in names:
            done = subprocess.run(["openssl", "x509", "-noout", "-in", str(files["server/tls.crt"]), "-checkhost", host],
                                  capture_output=True, text=True, timeout=30)
            if " does match " not in done.stdout:
                problems.append(f"the server certificate does not name {host}: {done.stdout.strip()}")
        if not etcd:
            return problems or f"names {len(names)} hosts, chains to the CA (no etcd here to serve them)"

        client_port, peer_port, metrics = free_port(), free_port(), free_port()
        mounted = {"/etc/etcd/tls/ca.crt": files["server/ca.crt"], "/etc/etcd/tls/tls.crt": files["server/tls.crt"],
                   "/etc/etcd/tls/tls.key": files["server/tls.key"]}
        tls_flags = [f"{k}={mounted.get(v, v)}" for k, v in args.items()
                     if k.endswith("-file") or k.endswith("cert-auth")]
        peer_scheme = "https" if peer else "http"
        stranger_crt, stranger_key = self_signed(d, "stranger")
        (d / "stranger.crt").write_bytes(stranger_crt)
        (d / "stranger.key").write_bytes(stranger_key)
        process = subprocess.Popen(
            [etcd, "--name", "m0", "--data-dir", str(d / "data"),
             f"--listen-client-urls=https://127.0.0.1:{client_port}",
             f"--advertise-client-urls=https://127.0.0.1:{client_port}",
             f"--listen-peer-urls={peer_scheme}://127.0.0.1:{peer_port}",
             f"--initial-advertise-peer-urls={peer_scheme}://127.0.0.1:{peer_port}",
             f"--initial-cluster=m0={peer_scheme}://127.0.0.1:{peer_port}",
             f"--listen-metrics-urls=http://127.0.0.1:{metrics}", *tls_flags],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/health", timeout=2) as r:
                        if json.loads(r.read()).get("health") == "true":
                            break
                except (OSError, ValueError):
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    return problems + [f"etcd did not start: {(process.stderr.read() if process.stderr else '')[-2000:]}"]
                time.sleep(0.2)
            herald = _tls_context(files["client/ca.crt"], files["client/tls.crt"], files["client/tls.key"])
            for host in names:
                if error := _handshake(client_port, herald, host):
                    problems.append(f"Herald's certificate to etcd as {host}: {error}")
            # A write and a read through the JSON gateway, as Herald's client.
            key = base64.b64encode(b"/herald/v1/check-chart").decode()
            value = base64.b64encode(b"ok").decode()
            connection = http.client.HTTPSConnection("127.0.0.1", client_port, context=herald, timeout=10)
            for path, body in (("/v3/kv/put", {"key": key, "value": value}), ("/v3/kv/range", {"key": key})):
                connection.request("POST", path, json.dumps(body), {"content-type": "application/json"})
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200:
                    problems.append(f"{path} with Herald's certificate: {response.status} {answer[:200]!r}")
            if value not in answer.decode():
                problems.append(f"etcd did not read back what Herald's certificate wrote: {answer[:200]!r}")
            for label, context in (
                ("no client certificate", _tls_context(files["client/ca.crt"], None, None)),
                ("a certificate of another CA", _tls_context(files["client/ca.crt"], d / "stranger.crt", d / "stranger.key")),
            ):
                if _handshake(client_port, context, "127.0.0.1") is None:
                    problems.append(f"etcd admitted a client with {label}")
            if peer:
                member = _tls_context(files["server/ca.crt"], files["server/tls.crt"], files["server/tls.key"])
                if error := _handshake(peer_port, member, members[0]):
                    problems.append(f"a member's certificate on the peer port: {error}")
                if _handshake(peer_port, _tls_context(files["server/ca.crt"], None, None), members[0]) is None:
                    problems.append("the peer port admitted a member without a certificate")
        finally:
            process.terminate()
            process.wait(timeout=30)
    return problems or (f"server certificate names {len(names)} hosts; a real etcd serves Herald's certificate, "
                        f"refuses none and a stranger's{'; peers over TLS' if peer else ''}")


# ------------------------------------------------------------------ NodeService TLS

NODE_TLS_KEYS = ("tls.crt", "tls.key", "ca.crt")


class _TlsServer:
    """A TLS server on a loopback port with a certificate and key (ALPN h2, as NodeService's
    tonic server): it completes handshakes and answers one byte."""

    def __init__(self, cert: Path, key: Path) -> None:
        import threading

        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        self.context.set_alpn_protocols(["h2"])
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"x")
            except (ssl.SSLError, OSError):
                pass

    def close(self) -> None:
        self.sock.close()


def _node_handshake(port: int, ca: Path, server_name: str) -> str | None:
    """None when a client that trusts `ca` and checks `server_name` (as the control role
    does) completes a handshake with ALPN h2, else why not."""
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["h2"])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=server_name) as tls:
                if tls.selected_alpn_protocol() != "h2":
                    return f"ALPN {tls.selected_alpn_protocol()!r}, not h2"
                tls.recv(1)
        return None
    except (ssl.SSLError, OSError) as error:
        return f"{type(error).__name__}: {error}"


def check_node_tls(objs: list[dict]) -> list[str] | str:
    """NodeService's TLS (nodeService.tls): every Herald role's herald.toml has [grpc.tls]
    with one server_name and its cert, key and ca in a mount of one Secret's tls.crt,
    tls.key and ca.crt, the same Secret for every role; the CA's key (<fullname>-node-ca) is
    mounted by no pod. A certificate the chart generates chains to the CA, names
    server_name and nothing else, and a TLS server with it (ALPN h2) is accepted by a client
    that trusts ca.crt and checks server_name, as the control role does, and refused by one
    that checks another name or trusts another CA. Off: no [grpc.tls], no such Secrets."""
    full = herald_fullname(objs)
    configmaps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    tomls = {role: tomllib.loads(text) for role in HERALD_ROLES
             if (text := (configmaps.get(f"{full}-config", {}).get("data") or {}).get(f"herald-{role}.toml"))}
    deployments = {d["metadata"]["name"]: d for d in objs if d["kind"] == "Deployment"}
    secrets = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Secret"}
    generated = {f"{full}-node-tls", f"{full}-node-ca"}
    problems: list[str] = []
    configs = {role: toml.get("grpc", {}).get("tls") for role, toml in tomls.items()}
    if not tomls:
        return ["no herald.toml of any role"]
    if not any(configs.values()):
        if generated & set(secrets):
            problems.append(f"nodeService.tls is off, yet the chart made {sorted(generated & set(secrets))}")
        for name, d in deployments.items():
            if any(v["name"] == "node-tls" for v in d["spec"]["template"]["spec"].get("volumes", [])):
                problems.append(f"{name}: mounts node-tls, yet no role has [grpc.tls]")
        return problems or "off: NodeService in clear"
    if missing := sorted(role for role, tls in configs.items() if not tls):
        problems.append(f"the roles {missing} have no [grpc.tls] while the others have")
    names = {tls.get("server_name") for tls in configs.values() if tls}
    if len(names) != 1 or None in names:
        problems.append(f"the roles' grpc.tls.server_name are not one name: {names}")
    server_name = next(iter(names))
    used: set[str] = set()
    for role, tls in configs.items():
        if not tls:
            continue
        d = deployments.get(f"{full}-{role}")
        if d is None:
            problems.append(f"no Deployment {full}-{role}")
            continue
        pod = d["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for key, file in (("cert", "tls.crt"), ("key", "tls.key"), ("ca", "ca.crt")):
            path = tls.get(key, "")
            mount = next((m for m in pod["containers"][0].get("volumeMounts", [])
                          if path == m["mountPath"].rstrip("/") + "/" + file), None)
            secret = (volumes.get(mount["name"], {}) if mount else {}).get("secret")
            items = {i["path"]: i["key"] for i in (secret or {}).get("items") or []}
            if secret is None or items.get(file, file if not items else None) != file:
                problems.append(f"{role}: grpc.tls.{key} = {path!r} is not the key {file} of a mounted Secret")
                continue
            used.add(secret["secretName"])
    if len(used) > 1:
        problems.append(f"the roles mount different NodeService Secrets: {sorted(used)}")
    mounted = {v["secret"]["secretName"] for o in objs if o["kind"] in WORKLOADS
               for v in o["spec"]["template"]["spec"].get("volumes", []) if "secret" in v}
    if f"{full}-node-ca" in mounted:
        problems.append(f"a pod mounts {full}-node-ca, the CA's key")
    secret_name = next(iter(used), None)
    if problems or secret_name is None:
        return problems
    if secret_name not in secrets:
        if generated & set(secrets):
            problems.append(f"the operator's Secret {secret_name} is used, yet the chart made {sorted(generated & set(secrets))}")
        return problems or f"server_name {server_name}, the operator's Secret {secret_name}"
    data = secret_data(secrets[secret_name])
    ca_data = secret_data(secrets.get(f"{full}-node-ca", {}))
    if set(NODE_TLS_KEYS) - set(data):
        return [f"{secret_name} lacks {sorted(set(NODE_TLS_KEYS) - set(data))}"]
    annotation = (secrets[secret_name]["metadata"].get("annotations") or {}).get("herald/server-name")
    if annotation != server_name:
        problems.append(f"{secret_name}: annotation herald/server-name is {annotation!r}, not {server_name!r}")
    if ca_data.get("ca.crt") != data["ca.crt"] or "ca.key" not in ca_data:
        problems.append(f"{full}-node-ca does not hold the CA of {secret_name} and its key")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for key in NODE_TLS_KEYS:
            (d / key).write_bytes(data[key])
        if "ca.key" in ca_data:
            (d / "ca.key").write_bytes(ca_data["ca.key"])
            pub = [subprocess.run(cmd, capture_output=True, timeout=30).stdout for cmd in (
                ["openssl", "x509", "-noout", "-pubkey", "-in", str(d / "ca.crt")],
                ["openssl", "pkey", "-pubout", "-in", str(d / "ca.key")])]
            if pub[0] != pub[1] or not pub[0]:
                problems.append(f"{full}-node-ca: ca.key is not the key of ca.crt")
        done = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", str(d / "ca.crt"), str(d / "tls.crt")],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            problems.append(f"the certificate does not chain to the CA: {done.stdout}{done.stderr}")
        text = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(d / "tls.crt")],
                              capture_output=True, text=True, timeout=30).stdout
        sans = sorted(s.strip() for s in text.split("\n", 1)[-1].split(",") if s.strip())
        if sans != [f"DNS:{server_name}"]:
            problems.append(f"the certificate names {sans}, not only DNS:{server_name}")
        stranger_crt, _ = self_signed(d, "stranger")
        (d / "stranger.crt").write_bytes(stranger_crt)
        server = _TlsServer(d / "tls.crt", d / "tls.key")
        try:
            if error := _node_handshake(server.port, d / "ca.crt", server_name):
                problems.append(f"a client trusting ca.crt and checking {server_name}: {error}")
            if _node_handshake(server.port, d / "ca.crt", f"other-{server_name}") is None:
                problems.append(f"a client checking the name other-{server_name} accepted the certificate")
            if _node_handshake(server.port, d / "stranger.crt", server_name) is None:
                problems.append("a client trusting another CA accepted the certificate")
        finally:
            server.close()
    return problems or (f"every role serves NodeService with {secret_name} for {server_name}; the certificate "
                        f"chains to the CA (kept in {full}-node-ca, mounted by no pod) and passes a client that "
                        f"checks the CA and the name, and no other")


def _wait_port(port: int, process: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start")
            time.sleep(0.1)


def _wait_ready(admin: int, process: subprocess.Popen, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not get ready")
        time.sleep(0.2)


def check_live_node_tls(objs: list[dict], herald: str, heraldctl: str, nats_server: str, etcd: str) -> list[str] | str:
    """The rendered pods, running: the bundled NATS and etcd from their rendered files and
    flags, an edge and a control node from theirs (herald.toml, environment, mounted
    Secrets: NATS password, etcd client certificate, node token, NodeService certificate),
    on loopback ports. The edge serves NodeService over TLS and registers grpc_tls; the
    control node, asked by heraldctl for the edge's sessions, calls it over TLS with the node
    token, checking the chart's CA and serverName, and answers. A control node that checks
    another name or trusts another CA cannot reach it, and one with another token is
    refused. (The harness adds what the pods
    would not have: loopback addresses, and an API token file for heraldctl.)"""
    full = herald_fullname(objs)
    sets = {o["spec"]["template"]["spec"]["containers"][0]["name"]: o for o in objs if o["kind"] == "StatefulSet"}
    deployments = {d["metadata"]["name"]: d for d in objs if d["kind"] == "Deployment"}
    if "nats" not in sets or "etcd" not in sets:
        return "needs the bundled NATS and etcd"
    processes: list[tuple[str, subprocess.Popen]] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="check-chart-live-") as tmp:
        d = Path(tmp)
        logs = d / "logs"
        logs.mkdir()

        def spawn(label: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
            out = open(logs / f"{label}.log", "wb")
            process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
            processes.append((label, process))
            return process

        try:
            # NATS from its rendered nats.conf (users and passwords) on loopback.
            nats = PodFiles(d / "nats", objs, sets["nats"])
            conf = nats.path("/etc/nats/nats.conf")
            text = nats.rewrite(conf.read_text())
            text = re.sub(r"store_dir: .*", f"store_dir: {json.dumps(str(d / 'jetstream'))}", text)
            text = re.sub(r"pid_file: .*", f"pid_file: {json.dumps(str(d / 'nats.pid'))}", text)
            conf.write_text(text)
            nats_port = free_port()
            process = spawn("nats", [nats_server, "-c", str(conf), "-a", "127.0.0.1", "-p", str(nats_port),
                                     "-m", str(free_port())],
                            {**nats.run_env(), "POD_NAME": f"{sets['nats']['metadata']['name']}-0"})
            _wait_port(nats_port, process, "nats-server")

            # etcd with its rendered TLS flags and certificates on loopback.
            etcd_pod = PodFiles(d / "etcd", objs, sets["etcd"])
            args = dict(a.split("=", 1) for a in sets["etcd"]["spec"]["template"]["spec"]["containers"][0]["args"]
                        if "=" in a)
            client, peer, metrics = free_port(), free_port(), free_port()
            scheme = args["--listen-client-urls"].split("://")[0]
            peer_scheme = args["--listen-peer-urls"].split("://")[0]
            flags = [f"{k}={etcd_pod.rewrite(v)}" for k, v in args.items() if k.endswith("-file") or k.endswith("cert-auth")]
            process = spawn("etcd", [
                etcd, "--name", "m0", "--data-dir", str(d / "etcd-data"),
                f"--listen-client-urls={scheme}://127.0.0.1:{client}",
                f"--advertise-client-urls={scheme}://127.0.0.1:{client}",
                f"--listen-peer-urls={peer_scheme}://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls={peer_scheme}://127.0.0.1:{peer}",
                f"--initial-cluster=m0={peer_scheme}://127.0.0.1:{peer}",
                f"--listen-metrics-urls=http://127.0.0.1:{metrics}", *flags], etcd_pod.run_env())
            _wait_port(client, process, "etcd")

            token = "check-chart-admin-token"
            (d / "api-tokens").write_text(f"{token}\n")

            def node(role: str, label: str, extra: list[str]) -> tuple[subprocess.Popen, PodFiles, int]:
                """A Herald node of `role` from its Deployment's rendered files and environment."""
                workload = deployments[f"{full}-{role}"]
                pod = PodFiles(d / label, objs, workload, empty_dirs=True)
                container = workload["spec"]["template"]["spec"]["containers"][0]
                config_path = container["args"][container["args"].index("--config") + 1]
                conf = pod.path(config_path)
                conf.write_text(pod.rewrite(conf.read_text()))
                admin = free_port()
                sets_ = [f"admin.listen=127.0.0.1:{admin}", f"grpc.listen=127.0.0.1:{free_port()}",
                         f"nats.urls=nats://127.0.0.1:{nats_port}", f"etcd.endpoints={scheme}://127.0.0.1:{client}",
                         f"node.id={label}", *extra]
                cmd = [herald] + [a if a == str(conf) else pod.rewrite(a) for a in pod.args(container, config_path, conf)]
                cmd = cmd[:-1] + [x for s in sets_ for x in ("--set", s)] + cmd[-1:]
                env = {k: pod.rewrite(v) for k, v in pod.run_env().items()}
                env["HOME"] = str(d)
                process = spawn(label, cmd, env)
                _wait_ready(admin, process, f"{role} node {label}")
                return process, pod, admin

            node("edge", "edge-0", [f"edge.smpp_listen=127.0.0.1:{free_port()}"])

            def control(label: str, extra: list[str]) -> int:
                port = free_port()
                node("control", label, [f"control.listen=127.0.0.1:{port}",
                                        f"control.tokens_file={d / 'api-tokens'}", *extra])
                return port

            def ctl(port: int, *words: str) -> subprocess.CompletedProcess:
                return subprocess.run([heraldctl, "--server", f"http://127.0.0.1:{port}", "--token", token, *words],
                                      capture_output=True, text=True, timeout=60,
                                      env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(d)})

            good = control("control-0", [])
            done = ctl(good, "get", "nodes", "-o", "json")
            listed = json.loads(done.stdout or "null") if done.returncode == 0 else None
            edge = next((n for n in (listed if isinstance(listed, list) else (listed or {}).get("nodes", []))
                         if "edge-0" in json.dumps(n)), None)
            if edge is None:
                problems.append(f"heraldctl get nodes does not list the edge: {done.stdout}{done.stderr}")
            elif "grpc_tls" not in json.dumps(edge):
                problems.append(f"the edge registered no grpc_tls address: {edge}")
            done = ctl(good, "get", "sessions", "--node", "edge-0")
            if done.returncode != 0:
                problems.append(f"the control node could not call the edge's NodeService over TLS: {done.stderr.strip()}")
            stranger = d / "stranger"
            stranger.mkdir()
            crt, _ = self_signed(stranger, "stranger")
            (stranger / "ca.crt").write_bytes(crt)
            (stranger / "token").write_text("not-the-node-token\n")
            for label, extra, what, said in (
                ("control-1", ["grpc.tls.server_name=another-name"], "checking another name", "unavailable"),
                ("control-2", [f"grpc.tls.ca={stranger / 'ca.crt'}"], "trusting another CA", "unavailable"),
                ("control-3", [f"grpc.token_file={stranger / 'token'}"], "with another token", "unauthenticated"),
            ):
                port = control(label, extra)
                done = ctl(port, "get", "sessions", "--node", "edge-0")
                if done.returncode == 0 or said not in done.stderr.lower():
                    problems.append(f"a control node {what} was not refused ({said}) by the edge's NodeService: "
                                    f"exit {done.returncode} {done.stderr.strip()}")
        except RuntimeError as error:
            problems.append(str(error))
            for label, process in processes:
                if process.poll() is not None:
                    log = (logs / f"{label}.log").read_text(errors="replace")[-1500:]
                    problems.append(f"{label} exited {process.returncode}:\n{log}")
        finally:
            for _, process in reversed(processes):
                process.terminate()
            for _, process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
    return problems or ("an edge and a control node from their pods' files, on the rendered NATS and etcd: "
                        "the control node calls the edge's NodeService over TLS with the node token; one "
                        "checking another name, trusting another CA or bearing another token cannot")


def check_secrets_kept(chart_dir: Path, values: dict) -> list[str] | str:
    """The Secrets the chart generates (node token, NodeService and etcd certificates, NATS
    passwords) are read back on upgrades (lookup), so nothing changes under running pods:
    the chart rendered from a copy whose `lookup` answers with the Secrets of a first render
    gives the same Secrets again, and without them different ones (they are random). A new
    nodeService.tls.serverName gets a new certificate for that name from the same CA."""
    import shutil

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp, "herald")
        shutil.copytree(chart_dir, copy)
        (copy / "values.schema.json").unlink(missing_ok=True)
        replaced = 0
        for f in copy.glob("templates/*.yaml"):
            text, n = re.subn(r'lookup "v1" "Secret" \S+ (\$[\w.]+)', r"(index $.Values.checkLookup \1 | default dict)",
                              f.read_text())
            f.write_text(text)
            replaced += n
        if "lookup" in "".join(f.read_text() for f in copy.glob("templates/*.yaml")).replace("(lookup)", ""):
            return ["a lookup the check cannot replace (not lookup \"v1\" \"Secret\" <namespace> $name)"]

        def secrets_of(lookup: dict, extra: dict | None = None) -> dict[str, dict]:
            merged = json.loads(json.dumps(values))
            for key, value in (extra or {}).items():
                node = merged
                *parents, last = key.split(".")
                for part in parents:
                    node = node.setdefault(part, {})
                node[last] = value
            objs = render(copy, {**merged, "checkLookup": lookup})
            return {o["metadata"]["name"]: o for o in objs if o["kind"] == "Secret"}

        first = secrets_of({})
        again = secrets_of(first)
        fresh = secrets_of({})
        problems: list[str] = []
        kept = []
        for name, secret in first.items():
            if secret.get("data") != again.get(name, {}).get("data"):
                problems.append(f"{name}: an upgrade changes it")
            if secret.get("data") != fresh.get(name, {}).get("data"):
                kept.append(name)
        if not kept:
            problems.append("no Secret is generated anew without lookup: the check shows nothing")
        full = herald_fullname(render(copy, {**values, "checkLookup": {}}))
        tls_name, ca_name = f"{full}-node-tls", f"{full}-node-ca"
        note = ""
        if tls_name in first and ca_name in first:
            renamed = secrets_of(first, {"nodeService.tls.serverName": "nodes.herald.internal"})
            old, new = secret_data(first[tls_name]), secret_data(renamed[tls_name])
            if secret_data(renamed[ca_name]) != secret_data(first[ca_name]) or new["ca.crt"] != old["ca.crt"]:
                problems.append("a new nodeService.tls.serverName changed the CA")
            if new["tls.crt"] == old["tls.crt"]:
                problems.append("a new nodeService.tls.serverName kept the certificate for the old name")
            with tempfile.TemporaryDirectory() as certs:
                crt = Path(certs, "tls.crt")
                crt.write_bytes(new["tls.crt"])
                done = subprocess.run(["openssl", "x509", "-noout", "-in", str(crt), "-checkhost", "nodes.herald.internal"],
                                      capture_output=True, text=True, timeout=30)
                if " does match " not in done.stdout:
                    problems.append(f"the certificate for a new serverName does not name it: {done.stdout.strip()}")
            note = "; a new serverName gets a new certificate from the same CA"
    return problems or f"{replaced} lookups; {', '.join(sorted(kept))} kept across upgrades{note}"


# ------------------------------------------------------------------ the chart

def herald_fullname(objs: list[dict]) -> str:
    """The chart's full name (<release>-herald, or fullnameOverride), as the ConfigMap with
    the roles' herald-<role>.toml is named: <fullname>-config."""
    for o in objs:
        data = (o.get("data") or {}) if o.get("kind") == "ConfigMap" else {}
        if any(k.startswith("herald-") and k.endswith(".toml") for k in data):
            return o["metadata"]["name"].removesuffix("-config")
    return RELEASE


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


def chart_expectations(name: str, chart_dir: Path, objs: list[dict], values: dict | None = None) -> list[str]:
    """What a values file in ci/ is there to show, checked on its render."""
    problems: list[str] = []
    kinds: dict[str, list[dict]] = {}
    for o in objs:
        kinds.setdefault(o["kind"], []).append(o)
    full = herald_fullname(objs)
    deployments = {d["metadata"]["name"] for d in kinds.get("Deployment", [])}
    for role in ("edge", "router", "connector", "control"):
        if f"{full}-{role}" not in deployments:
            problems.append(f"no Deployment {full}-{role}")
    edge_svc = next((s for s in kinds.get("Service", []) if s["metadata"]["name"] == f"{full}-edge"), None)
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
        # The ServiceAccount: made, named serviceAccount.name, annotated, no token mounted.
        sa_values = (values or {}).get("serviceAccount", {})
        accounts = {s["metadata"]["name"]: s for s in kinds.get("ServiceAccount", [])}
        account = accounts.get(sa_values.get("name", ""))
        if account is None:
            problems.append(f"no ServiceAccount {sa_values.get('name')} (serviceAccount.name), but {sorted(accounts)}")
        else:
            if (account["metadata"].get("annotations") or {}) != sa_values.get("annotations"):
                problems.append(f"the ServiceAccount's annotations are {account['metadata'].get('annotations')}, "
                                f"not serviceAccount.annotations")
            if account.get("automountServiceAccountToken") is not False:
                problems.append("the ServiceAccount mounts its token")
        for d in kinds.get("Deployment", []):
            if d["spec"]["template"]["spec"].get("serviceAccountName") != sa_values.get("name"):
                problems.append(f"{name_of(d)} does not run as {sa_values.get('name')}")
    if name.startswith("external") and "StatefulSet" in kinds:
        problems.append("external NATS/etcd, yet StatefulSets were rendered")
    problems += security_expectations(name, kinds)
    if name.startswith("overrides"):
        problems += overrides_expectations(values or {}, objs)
    # Every role's grace period covers its preStop sleep.
    for d in kinds.get("Deployment", []):
        spec = d["spec"]["template"]["spec"]
        pre = spec["containers"][0].get("lifecycle", {}).get("preStop", {})
        sleep = int((pre.get("sleep") or {}).get("seconds") or (pre.get("exec") or {}).get("command", ["", "0"])[-1])
        if spec.get("terminationGracePeriodSeconds", 30) < sleep + 15:
            problems.append(f"{name_of(d)}: terminationGracePeriodSeconds leaves under 15 s after the preStop sleep")
    return problems


# The pod-level values of every role, and where each lands in the Deployment's pod spec.
ROLE_POD_VALUES = ("nodeSelector", "tolerations", "affinity", "priorityClassName", "topologySpreadConstraints",
                   "terminationGracePeriodSeconds")


def overrides_expectations(values: dict, objs: list[dict]) -> list[str]:
    """ci/overrides-values.yaml: each value it sets, found where it belongs in the render
    (read from the values, so the file and the check cannot drift apart)."""
    problems: list[str] = []
    full = values["fullnameOverride"]
    by_kind: dict[str, dict[str, dict]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    ours = [o for o in objs if str((o["metadata"].get("labels") or {}).get("helm.sh/chart", "")).startswith("herald-")]

    # nameOverride: the name label of every object of this chart and of the selectors;
    # fullnameOverride: the names of the chart's own objects.
    for o in ours:
        if o["metadata"]["labels"].get("app.kubernetes.io/name") != values["nameOverride"]:
            problems.append(f"{name_of(o)}: app.kubernetes.io/name is not nameOverride {values['nameOverride']}")
    want = {("Deployment", f"{full}-{r}") for r in HERALD_ROLES} | {
        ("Service", f"{full}-edge"), ("Service", f"{full}-control"), ("Service", f"{full}-metrics"),
        ("ConfigMap", f"{full}-config"), ("Secret", f"{full}-node-tls"), ("Secret", f"{full}-node-ca"),
        ("Secret", f"{full}-etcd-client-tls"), ("ServiceMonitor", full), ("PrometheusRule", full),
        ("PodDisruptionBudget", f"{full}-router"), ("NetworkPolicy", f"{full}-edge")}
    if missing := sorted(f"{k}/{n}" for k, n in want if n not in by_kind.get(k, {})):
        problems.append(f"fullnameOverride {full}: no {', '.join(missing)}")
    if strays := sorted(name_of(o) for o in ours if o["metadata"]["name"].startswith(f"{RELEASE}-herald")
                        or (o["kind"] == "Deployment" and not o["metadata"]["name"].startswith(full))):
        problems.append(f"fullnameOverride {full}: still named by the release: {strays}")

    deployments = {r: by_kind.get("Deployment", {}).get(f"{full}-{r}") for r in HERALD_ROLES}
    image = f"{values['image']['repository']}@{values['image']['digest']}"
    for role, d in deployments.items():
        if d is None:
            continue
        spec = d["spec"]["template"]["spec"]
        meta = d["spec"]["template"]["metadata"]
        container = spec["containers"][0]
        if container["image"] != image:
            problems.append(f"{role}: image {container['image']}, not {image} (image.digest)")
        if spec.get("imagePullSecrets") != values["imagePullSecrets"]:
            problems.append(f"{role}: imagePullSecrets {spec.get('imagePullSecrets')}")
        if spec.get("serviceAccountName") != values["serviceAccount"]["name"]:
            problems.append(f"{role}: runs as {spec.get('serviceAccountName')}, not serviceAccount.name")
        env = container.get("env", [])
        if any(e["name"] == "HERALD_GRPC__ADVERTISE" for e in env):
            problems.append(f"{role}: HERALD_GRPC__ADVERTISE is set, yet advertisePodIP is off")
        token = next((v for v in spec["volumes"] if v["name"] == "node-token"), {}).get("secret", {})
        key = values["nodeToken"]["key"]
        if token.get("secretName") != values["nodeToken"]["existingSecret"] or \
                [i["key"] for i in token.get("items", [])] != [key]:
            problems.append(f"{role}: the node-token volume is {token}, not nodeToken.existingSecret's key {key}")
        r = values.get(role, {})
        for item in r.get("extraEnv", []):
            if item not in env:
                problems.append(f"{role}: extraEnv {item['name']} is not in the container's env")
        for item in r.get("extraVolumes", []):
            if item not in spec["volumes"]:
                problems.append(f"{role}: extraVolumes {item['name']} is not a volume")
        for item in r.get("extraVolumeMounts", []):
            if item not in container.get("volumeMounts", []):
                problems.append(f"{role}: extraVolumeMounts {item['mountPath']} is not mounted")
        for field, got in (("podAnnotations", meta.get("annotations") or {}), ("podLabels", meta.get("labels") or {})):
            for k, v in (r.get(field) or {}).items():
                if got.get(k) != v:
                    problems.append(f"{role}: {field} {k}={v} is not on the pods")
        if set(r.get("podLabels") or {}) & set(d["spec"]["selector"]["matchLabels"]):
            problems.append(f"{role}: podLabels reached the Deployment's selector (immutable)")
        for field in ROLE_POD_VALUES:
            if field in r and spec.get(field) != r[field]:
                problems.append(f"{role}: {field} is {spec.get(field)!r}, not {r[field]!r}")
        if "affinity" not in r and "affinity" in spec:
            problems.append(f"{role}: has an affinity, yet podAntiAffinity is off and the role sets none")
        pdb = by_kind.get("PodDisruptionBudget", {}).get(f"{full}-{role}")
        if "minAvailable" in (r.get("pdb") or {}):
            if pdb is None or pdb["spec"].get("minAvailable") != r["pdb"]["minAvailable"] \
                    or "maxUnavailable" in pdb["spec"]:
                problems.append(f"{role}: the PodDisruptionBudget is {pdb and pdb['spec']}, "
                                f"not minAvailable {r['pdb']['minAvailable']} alone")
    if by_kind.get("ServiceAccount"):
        problems.append(f"serviceAccount.create is off, yet {sorted(by_kind['ServiceAccount'])} were made")
    if f"{full}-node-token" in by_kind.get("Secret", {}):
        problems.append("nodeToken.existingSecret is given, yet the chart made a node token Secret")
    configmaps = by_kind.get("ConfigMap", {})
    for role in HERALD_ROLES:
        toml = tomllib.loads((configmaps.get(f"{full}-config", {}).get("data") or {}).get(f"herald-{role}.toml", ""))
        if not str(toml.get("grpc", {}).get("token_file", "")).endswith("/" + values["nodeToken"]["key"]):
            problems.append(f"{role}: grpc.token_file is not the file {values['nodeToken']['key']}")

    # The Services.
    edge_values, edge = values["edge"]["service"], by_kind.get("Service", {}).get(f"{full}-edge", {})
    for k, v in edge_values["labels"].items():
        if (edge.get("metadata", {}).get("labels") or {}).get(k) != v:
            problems.append(f"the edge Service lacks the label {k}={v} (edge.service.labels)")
    if edge.get("spec", {}).get("loadBalancerClass") != edge_values["loadBalancerClass"]:
        problems.append("the edge Service's loadBalancerClass is not edge.service.loadBalancerClass")
    ports = {p["name"] for p in edge.get("spec", {}).get("ports", [])}
    container_ports = {p["name"] for p in deployments["edge"]["spec"]["template"]["spec"]["containers"][0]["ports"]} \
        if deployments["edge"] else set()
    if ports & {"http", "https"} or not {"http", "https"} <= container_ports or not {"smpp", "smpp-tls"} <= ports:
        problems.append(f"edge.service.exposeHttp is off: the Service has {sorted(ports)}, the edge {sorted(container_ports)}")
    control = by_kind.get("Service", {}).get(f"{full}-control", {})
    for k, v in values["control"]["service"]["annotations"].items():
        if (control.get("metadata", {}).get("annotations") or {}).get(k) != v:
            problems.append(f"the control Service lacks the annotation {k}={v} (control.service.annotations)")

    # Monitoring objects in their own namespaces, still looking at the release's.
    metrics = values["metrics"]
    monitor = by_kind.get("ServiceMonitor", {}).get(full, {})
    if monitor.get("metadata", {}).get("namespace") != metrics["serviceMonitor"]["namespace"] or \
            monitor.get("spec", {}).get("namespaceSelector", {}).get("matchNames") != [NAMESPACE]:
        problems.append("the ServiceMonitor is not in metrics.serviceMonitor.namespace, selecting the release's")
    rule = by_kind.get("PrometheusRule", {}).get(full, {})
    if rule.get("metadata", {}).get("namespace") != metrics["prometheusRule"]["namespace"]:
        problems.append("the PrometheusRule is not in metrics.prometheusRule.namespace")
    dashboards = [c for c in configmaps.values() if "-dashboard-" in c["metadata"]["name"]]
    if not dashboards or any(c["metadata"].get("namespace") != metrics["dashboards"]["namespace"] for c in dashboards):
        problems.append("the dashboard ConfigMaps are not in metrics.dashboards.namespace")
    return problems


def security_expectations(name: str, kinds: dict[str, list[dict]]) -> list[str]:
    """What each ci/ values file shows of nats.auth, nats.tls, etcd.tls and nodeService.tls:
    on by default with generated Secrets, off in open-values, the operator's Secrets in
    own-secrets-values, NATS TLS in full-values."""
    problems: list[str] = []
    secrets = {s["metadata"]["name"] for s in kinds.get("Secret", [])}
    configmaps = {c["metadata"]["name"]: c for c in kinds.get("ConfigMap", [])}
    full = herald_fullname([o for objs in kinds.values() for o in objs])
    tomls = {k[len("herald-"):-len(".toml")]: tomllib.loads(v)
             for k, v in (configmaps.get(f"{full}-config", {}).get("data") or {}).items()}
    # NodeService's TLS, whatever the NATS and etcd: on with a generated certificate unless
    # the file says otherwise.
    node_tls = {role: toml.get("grpc", {}).get("tls") for role, toml in tomls.items()}
    node_generated = {f"{full}-node-tls", f"{full}-node-ca"}
    if name.startswith("open"):
        if any(node_tls.values()) or node_generated & secrets:
            problems.append("nodeService.tls is off, yet a role has [grpc.tls] or its Secrets were made")
    elif not all(node_tls.values()):
        problems.append(f"nodeService.tls is on by default, yet {sorted(r for r, v in node_tls.items() if not v)} "
                        f"have no [grpc.tls]")
    elif name.startswith("own-secrets"):
        if node_generated & secrets:
            problems.append(f"the operator gave NodeService's Secret, yet the chart made {sorted(node_generated & secrets)}")
        if {v.get("server_name") for v in node_tls.values()} != {"nodes.herald.internal"}:
            problems.append("grpc.tls.server_name is not the operator's nodes.herald.internal")
    elif not node_generated <= secrets:
        problems.append(f"the chart did not make {sorted(node_generated - secrets)}")
    if name.startswith("external"):
        return problems
    sets = {s["metadata"]["name"]: s["spec"]["template"]["spec"] for s in kinds.get("StatefulSet", [])}
    etcd_args = " ".join(sets.get(f"{RELEASE}-etcd", {}).get("containers", [{}])[0].get("args", []))
    nats_conf = (configmaps.get(f"{RELEASE}-nats-config", {}).get("data") or {}).get("nats.conf", "")
    mounted = {v["secret"]["secretName"] for d in kinds.get("Deployment", [])
               for v in d["spec"]["template"]["spec"].get("volumes", []) if "secret" in v}
    mounted |= {v["secret"]["secretName"] for spec in sets.values() for v in spec.get("volumes", []) if "secret" in v}
    generated = {f"{RELEASE}-nats-passwords", f"{RELEASE}-etcd-ca", f"{RELEASE}-etcd-server-tls",
                 f"{full}-etcd-client-tls"}
    auth = f"{RELEASE}-nats-auth" in configmaps
    if name.startswith("open"):
        if auth or generated & secrets:
            problems.append(f"auth and TLS are off, yet {sorted(generated & secrets)} or the auth ConfigMap were made")
        if "https://" in etcd_args or "tls {" in nats_conf:
            problems.append("auth and TLS are off, yet etcd or NATS serve TLS")
        return problems
    if not auth:
        problems.append("nats.auth is on by default, yet no auth ConfigMap was made")
    if "--client-cert-auth=true" not in etcd_args:
        problems.append("etcd.tls is on by default, yet etcd runs without --client-cert-auth")
    admin = '"admin"' in (configmaps.get(f"{RELEASE}-nats-auth", {}).get("data") or {}).get("auth.conf", "")
    if admin == name.startswith("own-secrets"):
        problems.append(f"the admin user is {'there' if admin else 'missing'}: nats.auth.admin is "
                        f"{'off' if name.startswith('own-secrets') else 'on'}")
    if name.startswith("own-secrets"):
        if generated & secrets:
            problems.append(f"the operator gave the Secrets, yet the chart made {sorted(generated & secrets)}")
        own = {"herald-nats-passwords-own", "herald-nats-tls", "herald-etcd-server-own", "herald-etcd-client-own",
               "herald-node-tls-own"}
        if not own <= mounted:
            problems.append(f"the operator's Secrets {sorted(own - mounted)} are not used")
        if "--peer-client-cert-auth" in etcd_args or "=https://" in etcd_args.split("--initial-cluster=")[1].split()[0]:
            problems.append("etcd.tls.peer is off, yet peers use TLS")
    else:
        if not generated <= secrets:
            problems.append(f"the chart did not make {sorted(generated - secrets)}")
        if "--peer-client-cert-auth=true" not in etcd_args:
            problems.append("etcd.tls.peer is on by default, yet peers run without TLS")
    nats_tls = name.startswith("full") or name.startswith("own-secrets")
    for role, toml in tomls.items():
        urls = toml.get("nats", {}).get("urls", [])
        if nats_tls != all(u.startswith("tls://") for u in urls) or nats_tls != ("tls" in toml.get("nats", {})):
            problems.append(f"{role}: nats.urls {urls} and [nats.tls] do not follow nats.tls.enabled={nats_tls}")
    if nats_tls != ("tls {" in nats_conf):
        problems.append(f"nats.conf's tls block does not follow nats.tls.enabled={nats_tls}")
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
    parser.add_argument("--heraldctl", help="heraldctl binary for the running nodes' check (none: skipped)")
    parser.add_argument("--kubectl", default="kubectl")
    args = parser.parse_args()
    root: Path = args.root
    chart_dir = root / "helm/herald"
    here = root / "scripts/check-chart"
    run = Runner()

    import helm_python as helm
    import shutil

    nats_server = shutil.which("nats-server")
    etcd_bin = shutil.which("etcd")
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
            secrets = [e for e in external if not e.startswith("ServiceAccount ")]
            others = [e for e in external if e.startswith("ServiceAccount ")]
            expected = ([f"Secrets {', '.join(secrets)}"] if secrets else []) + others
            return problems or (f"expects existing {' and '.join(expected)}" if expected else "")
        run.check(f"references (selectors, ConfigMaps, Secrets, ports): {label}", refs)
        if args.herald:
            def herald_check() -> list[str] | str:
                problems, note = check_herald_configs(objs, args.herald)
                return problems or note
            run.check(f"herald check-config on each Deployment's files: {label}", herald_check)

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
                  lambda f=f: chart_expectations(f.name, chart_dir, rendered["objs"], read_values(f)))
        run.check(f"bundled NATS and etcd: {label}", lambda: check_bundled(rendered["objs"], nats_server))
        run.check(f"NATS users and permissions (nats.auth): {label}",
                  lambda: check_nats_auth(chart_dir, rendered["objs"], nats_server))
        run.check(f"etcd TLS and client certificates (etcd.tls): {label}",
                  lambda: check_etcd_tls(rendered["objs"], etcd_bin))
        run.check(f"NodeService TLS (nodeService.tls): {label}", lambda: check_node_tls(rendered["objs"]))
        if f.name.startswith("default") and args.herald and args.heraldctl and nats_server and etcd_bin:
            run.check(f"NodeService TLS between running nodes (herald, heraldctl): {label}",
                      lambda: check_live_node_tls(rendered["objs"], args.herald, args.heraldctl, nats_server, etcd_bin))
        if f.name.startswith(("default", "full")):
            run.check(f"generated Secrets kept across upgrades (lookup): {label}",
                      lambda f=f: check_secrets_kept(chart_dir, read_values(f)))

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
