#!/usr/bin/env python3
"""The chart's pods, running: scripts/check-pods.sh's driver (see that script for the list).

The chart is rendered (scripts/check-chart/check.py's render) with values-local.yaml (the
values a user starts with: local images, control tokens, a carrier password; the secure
defaults stay on: NATS users, etcd TLS, NodeService TLS). Each StatefulSet and Deployment
becomes Pods, and each Pod runs with `podman kube play` on a podman network of its own.
podman has no kubelet, no controllers and no Services, so this script is them, and says
where in what it does (docs/kubernetes.md, "What the pod check proves"):

- the ReplicaSet / StatefulSet controller: it names the pods (<deployment>-<hash>-<id>,
  <statefulset>-<ordinal>), makes a StatefulSet's PersistentVolumeClaims (podman volumes,
  group-owned by fsGroup as a kubelet makes them), starts a replacement when a pod dies,
  and starts more pods to scale;
- the kubelet's share podman 4.3 lacks: Secret and ConfigMap volumes written out (items,
  modes, group fsGroup) and mounted as files (podman 4.3 ignores `items` and panics on
  secret volumes), subPath mounts, emptyDirs (podman 4.3 makes one named volume shared by
  every pod), env from secretKeyRef/configMapKeyRef/fieldRef (metadata.name, status.podIP),
  `$(VAR)` expansion in env, command and args; a missing Secret, ConfigMap or key fails the
  pod as the kubelet would; the startup, readiness and liveness probes (httpGet on the pod
  IP, named ports resolved from the container's ports; podman would run them with curl
  inside the image, which has none); containerPorts are dropped (podman 4.3 publishes each
  on the host, so two pods collide), pods are reached at their IPs;
- Services: no virtual IPs here. Each pod gets hostAliases: a Service's names (short,
  namespaced, FQDN) -> the IP of its ready backend pod, a StatefulSet pod's
  <pod>.<headless service> names -> its IP. Clients of the edge dial pod IPs.

Everything else is podman's: the images, users, read-only root filesystems, capabilities,
seccomp, emptyDirs, volumes, resource limits, the network.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import os
import re
import secrets
import threading
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "check-chart"))
import check as chart_check  # noqa: E402  (scripts/check-chart/check.py: render())

NAMESPACE = chart_check.NAMESPACE
LABEL = "io.herald.check-pods"


class Fail(Exception):
    """The check failed: the message says what and why."""


def log(msg: str) -> None:
    print(f"[check-pods] {msg}", file=sys.stderr, flush=True)


def ok(msg: str) -> None:
    print(f"ok   {msg}", flush=True)


def podman(*args: str, check: bool = True, input: str | None = None,
           timeout: float = 180, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(["podman", *args], input=input, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise Fail(f"podman {' '.join(args[:3])} ...: exit {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return proc


def b64(data: dict | None) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in (data or {}).items()}


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined variables replaced, $$ escapes, others kept."""
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", sub, text)


def http_ok(url: str, timeout: float) -> tuple[bool, str]:
    """A kubelet httpGet probe: success is a status from 200 to 399."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 400, f"HTTP {resp.status}"
    except urllib.error.HTTPError as e:
        return 200 <= e.code < 400, f"HTTP {e.code}"
    except Exception as e:  # refused, timed out, reset, not HTTP: a failed probe
        text = "".join(ch if ch.isprintable() else "?" for ch in str(e))[:200]
        return False, f"{type(e).__name__}: {text}"


class Pod:
    def __init__(self, name: str, owner: dict, ip: str, spec: dict, labels: dict) -> None:
        self.name = name
        self.owner = owner  # the Deployment or StatefulSet
        self.ip = ip
        self.spec = spec  # the pod template's spec, as rendered (probes included)
        self.labels = labels
        self.started = time.monotonic()
        self.ready_after: float | None = None

    @property
    def kind(self) -> str:
        return f"{self.owner['kind']}/{self.owner['metadata']['name']}"

    def containers(self) -> list[str]:
        return [f"{self.name}-{c['name']}" for c in self.spec["containers"]]


class Cluster:
    """The rendered objects, run as pods on one podman network."""

    def __init__(self, objs: list[dict], work: Path, network: str, subnet: str, run_id: str,
                 extra_hosts: dict[str, str] | None = None) -> None:
        self.objs = objs
        self.work = work
        self.network = network
        self.prefix = subnet.rsplit(".", 1)[0]
        self.next_host = 10
        # A StatefulSet's pods keep their names: their IPs are set aside up front, so that
        # every member's stable name resolves in every pod from the start (etcd's
        # --initial-cluster, NATS's routes), as cluster DNS would once they run.
        # pod name -> (IP, headless Service, pod labels)
        self.stable: dict[str, tuple[str, str, dict]] = {}
        for o in objs:
            if o["kind"] == "StatefulSet":
                labels = dict(o["spec"]["template"]["metadata"].get("labels") or {})
                for n in range(o["spec"].get("replicas", 1)):
                    self.stable[f"{o['metadata']['name']}-{n}"] = (self.ip(), o["spec"]["serviceName"], labels)
        self.run_id = run_id
        self.pods: dict[str, Pod] = {}
        self.volumes: list[str] = []
        self.extra_hosts = dict(extra_hosts or {})
        self.secrets = {o["metadata"]["name"]: {**b64(o.get("data")),
                                                **{k: v.encode() for k, v in (o.get("stringData") or {}).items()}}
                        for o in objs if o["kind"] == "Secret"}
        self.configmaps = {o["metadata"]["name"]: {**{k: v.encode() for k, v in (o.get("data") or {}).items()},
                                                   **b64(o.get("binaryData"))}
                           for o in objs if o["kind"] == "ConfigMap"}

    def obj(self, kind: str, name: str) -> dict:
        for o in self.objs:
            if o["kind"] == kind and o["metadata"]["name"] == name:
                return o
        raise Fail(f"no {kind} {name} in the render")

    def ip(self) -> str:
        ip = f"{self.prefix}.{self.next_host}"
        self.next_host += 1
        return ip

    # ------------------------------------------------------------ names (Services)
    def host_aliases(self) -> list[dict]:
        """Every Service name -> the IP of a ready (else any) backend pod, or a StatefulSet's
        first member; StatefulSet pods' stable names -> their IPs; the check's own names
        (the simulator)."""
        by_ip: dict[str, list[str]] = {}

        def add(ip: str, *names: str) -> None:
            for n in names:
                if n not in by_ip.setdefault(ip, []):
                    by_ip[ip].append(n)

        def fqdn(name: str) -> list[str]:
            return [name, f"{name}.{NAMESPACE}", f"{name}.{NAMESPACE}.svc", f"{name}.{NAMESPACE}.svc.cluster.local"]

        for svc in (o for o in self.objs if o["kind"] == "Service"):
            selector = svc["spec"].get("selector") or {}
            backends = [p for p in self.pods.values()
                        if selector and all(p.labels.get(k) == v for k, v in selector.items())]
            backends.sort(key=lambda p: (p.ready_after is None, p.name))
            if backends:
                add(backends[0].ip, *fqdn(svc["metadata"]["name"]))
            else:  # a StatefulSet's Service before its pods run: its first member
                members = [ip for _, (ip, _, labels) in sorted(self.stable.items())
                           if selector and all(labels.get(k) == v for k, v in selector.items())]
                if members:
                    add(members[0], *fqdn(svc["metadata"]["name"]))
        for pod_name, (ip, headless, _) in self.stable.items():
            add(ip, *fqdn(f"{pod_name}.{headless}"))
        for name, ip in self.extra_hosts.items():
            add(ip, name)
        return [{"ip": ip, "hostnames": names} for ip, names in by_ip.items()]

    # ------------------------------------------------------------ volumes (kubelet)
    def materialize(self, pod_name: str, volume: dict, fs_group: int | None) -> dict:
        """A Secret or ConfigMap volume written out as the kubelet does, as a hostPath."""
        kind, src = ("secret", volume["secret"]) if "secret" in volume else ("configMap", volume["configMap"])
        source_name = src.get("secretName") if kind == "secret" else src.get("name")
        store = self.secrets if kind == "secret" else self.configmaps
        label = "Secret" if kind == "secret" else "ConfigMap"
        optional = bool(src.get("optional"))
        if source_name not in store:
            if optional:
                store_data: dict[str, bytes] = {}
            else:
                raise Fail(f"pod {pod_name}: volume {volume['name']}: {label} {NAMESPACE}/{source_name} not found "
                           f"(the kubelet: MountVolume.SetUp failed, the pod stays ContainerCreating)")
        else:
            store_data = store[source_name]
        mode = src.get("defaultMode", 0o644)
        files: dict[str, tuple[bytes, int]] = {}
        if src.get("items"):
            for item in src["items"]:
                if item["key"] not in store_data:
                    if optional:
                        continue
                    raise Fail(f"pod {pod_name}: volume {volume['name']}: {label} {NAMESPACE}/{source_name} "
                               f"has no key {item['key']} (the kubelet: MountVolume.SetUp failed, references "
                               f"non-existent {kind.lower()} key: {item['key']}; the pod never starts)")
                files[item["path"]] = (store_data[item["key"]], item.get("mode", mode))
        else:
            files = {k: (v, mode) for k, v in store_data.items()}
        root = self.work / "volumes" / pod_name / volume["name"]
        root.mkdir(parents=True, exist_ok=True)
        for rel, (data, fmode) in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if fs_group is not None:
                os.chown(path, 0, fs_group)
            os.chmod(path, fmode)
        for d in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
            if fs_group is not None:
                os.chown(d, 0, fs_group)
            os.chmod(d, 0o755)
        return {"name": volume["name"], "hostPath": {"path": str(root), "type": "Directory"}}

    def claim(self, claim_name: str, fs_group: int | None) -> None:
        """A PersistentVolumeClaim from a volumeClaimTemplate: a podman volume, kept across
        the pod's replacements, group-owned by fsGroup (as a kubelet sets it up)."""
        if claim_name in self.volumes:
            return
        left = podman("volume", "inspect", "--format", f'{{{{index .Labels "{LABEL}"}}}}', claim_name, check=False)
        if left.returncode == 0:
            if not left.stdout.strip():
                raise Fail(f"a podman volume {claim_name} exists and is not this check's")
            # A volume an earlier run left (--keep, or killed): this run starts empty.
            podman("volume", "rm", "-f", claim_name)
        podman("volume", "create", "--label", f"{LABEL}={self.run_id}", claim_name)
        self.volumes.append(claim_name)
        mount = podman("volume", "inspect", "--format", "{{.Mountpoint}}", claim_name).stdout.strip()
        if fs_group is not None:
            os.chown(mount, 0, fs_group)
            os.chmod(mount, 0o2775)

    # ------------------------------------------------------------ env (kubelet)
    def container_env(self, pod_name: str, ip: str, container: dict) -> dict[str, str]:
        env: dict[str, str] = {}
        for e in container.get("env") or []:
            name = e["name"]
            if "value" in e:
                env[name] = expand(str(e["value"]), env)
                continue
            ref = e.get("valueFrom") or {}
            if "fieldRef" in ref:
                field = ref["fieldRef"]["fieldPath"]
                values = {"metadata.name": pod_name, "metadata.namespace": NAMESPACE, "status.podIP": ip,
                          "status.podIPs": ip, "spec.nodeName": "podman", "status.hostIP": ip}
                if field not in values:
                    raise Fail(f"pod {pod_name}: env {name}: fieldRef {field} is not emulated by this check")
                env[name] = values[field]
            elif "secretKeyRef" in ref or "configMapKeyRef" in ref:
                is_secret = "secretKeyRef" in ref
                r = ref["secretKeyRef" if is_secret else "configMapKeyRef"]
                store = self.secrets if is_secret else self.configmaps
                label = "Secret" if is_secret else "ConfigMap"
                data = store.get(r["name"])
                if data is None or r["key"] not in data:
                    if r.get("optional"):
                        continue
                    what = f"{label} \"{r['name']}\" not found" if data is None else \
                        f"couldn't find key {r['key']} in {label} {NAMESPACE}/{r['name']}"
                    raise Fail(f"pod {pod_name}: env {name}: {what} (the kubelet: CreateContainerConfigError)")
                env[name] = data[r["key"]].decode()
            else:
                raise Fail(f"pod {pod_name}: env {name}: valueFrom {list(ref)} is not emulated by this check")
        return env

    # ------------------------------------------------------------ pods
    def pod_manifest(self, name: str, ip: str, template: dict, hostname: str | None,
                     claims: dict[str, str]) -> dict:
        spec = copy.deepcopy(template["spec"])
        fs_group = (spec.get("securityContext") or {}).get("fsGroup")
        volumes = []
        by_name = {}
        for v in spec.get("volumes") or []:
            if "secret" in v or "configMap" in v:
                hv = self.materialize(name, v, fs_group)
            elif "emptyDir" in v:
                # podman 4.3 turns an emptyDir into a named volume of the volume's name, one
                # for every pod: a pod's own directory instead, 0777 as the kubelet makes it.
                d = self.work / "volumes" / name / v["name"]
                d.mkdir(parents=True, exist_ok=True)
                os.chmod(d, 0o777)
                hv = {"name": v["name"], "hostPath": {"path": str(d), "type": "Directory"}}
            elif "hostPath" in v:
                hv = copy.deepcopy(v)
            else:
                raise Fail(f"pod {name}: volume {v['name']}: {list(v)} is not emulated by this check")
            volumes.append(hv)
            by_name[v["name"]] = hv
        for vname, claim in claims.items():
            self.claim(claim, fs_group)
            hv = {"name": vname, "persistentVolumeClaim": {"claimName": claim}}
            volumes.append(hv)
            by_name[vname] = hv
        containers = []
        for c in spec["containers"]:
            env = self.container_env(name, ip, c)
            # No `ports`: podman 4.3 publishes each containerPort on the host (hostPort =
            # containerPort), which collides between pods; pods are reached at their IPs, as
            # in a cluster. The probes resolve named ports from the rendered spec.
            out = {k: copy.deepcopy(c[k]) for k in ("name", "image", "imagePullPolicy", "resources",
                                                      "securityContext", "workingDir") if k in c}
            for key in ("command", "args"):
                if key in c:
                    out[key] = [expand(str(a), env) for a in c[key]]
            out["env"] = [{"name": k, "value": v} for k, v in env.items()]
            mounts = []
            for i, m in enumerate(c.get("volumeMounts") or []):
                if m["name"] not in by_name:
                    raise Fail(f"pod {name}: container {c['name']}: volumeMount {m['name']}: no such volume")
                m2 = {k: m[k] for k in ("name", "mountPath", "readOnly") if k in m}
                if m.get("subPath"):
                    base = by_name[m["name"]]
                    if "hostPath" not in base:
                        raise Fail(f"pod {name}: subPath on {m['name']} is not emulated by this check")
                    target = Path(base["hostPath"]["path"]) / m["subPath"]
                    if not target.exists():
                        raise Fail(f"pod {name}: container {c['name']}: subPath {m['subPath']} is not in volume "
                                   f"{m['name']} (the kubelet: CreateContainerConfigError)")
                    sub = f"{m['name']}-sub{i}"
                    volumes.append({"name": sub, "hostPath": {"path": str(target),
                                                              "type": "File" if target.is_file() else "Directory"}})
                    m2["name"] = sub
                mounts.append(m2)
            out["volumeMounts"] = mounts
            containers.append(out)
        pod_spec: dict[str, Any] = {
            "containers": containers,
            "volumes": volumes,
            "hostAliases": self.host_aliases(),
            "restartPolicy": "Never",
        }
        for key in ("securityContext", "terminationGracePeriodSeconds"):
            if key in spec:
                pod_spec[key] = spec[key]
        if hostname:
            pod_spec["hostname"] = hostname
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "labels": dict(template["metadata"].get("labels") or {})},
                "spec": pod_spec}

    def start(self, owner: dict, name: str | None = None, template: dict | None = None) -> Pod:
        """A pod of a Deployment or StatefulSet (the next ordinal, or a given name)."""
        template = template or owner["spec"]["template"]
        hostname = None
        claims: dict[str, str] = {}
        if owner["kind"] == "StatefulSet":
            if name is None:
                n = 0
                while f"{owner['metadata']['name']}-{n}" in self.pods:
                    n += 1
                name = f"{owner['metadata']['name']}-{n}"
            hostname = name
            for t in owner["spec"].get("volumeClaimTemplates") or []:
                claims[t["metadata"]["name"]] = f"{t['metadata']['name']}-{name}"
        elif name is None:
            rs = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
            suffix = "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            name = f"{owner['metadata']['name']}-{rs}-{suffix}"
        ip = self.stable[name][0] if name in self.stable else self.ip()
        manifest = self.pod_manifest(name, ip, template, hostname, claims)
        path = self.work / "pods" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        started = time.monotonic()
        podman("kube", "play", "--network", self.network, "--ip", ip, "--start", str(path))
        pod = Pod(name, owner, ip, template["spec"], dict(template["metadata"].get("labels") or {}))
        pod.started = started
        self.pods[name] = pod
        return pod

    def start_raw(self, manifest: dict, ip: str) -> None:
        """One of the check's own pods (the simulator)."""
        path = self.work / "pods" / f"{manifest['metadata']['name']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        podman("kube", "play", "--network", self.network, "--ip", ip, "--start", str(path))

    def state(self, pod: Pod) -> list[tuple[str, str, int]]:
        out = []
        for c in pod.containers():
            p = podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", c, check=False)
            if p.returncode != 0:
                out.append((c, "missing", -1))
            else:
                status, code = p.stdout.split()
                out.append((c, status, int(code)))
        return out

    def logs(self, container: str, lines: int = 15) -> str:
        p = podman("logs", "--tail", str(lines), container, check=False)
        return (p.stdout + p.stderr).strip()

    # ------------------------------------------------------------ probes (kubelet)
    def probe_url(self, pod: Pod, container: dict, probe: dict) -> str:
        get = probe.get("httpGet")
        if not get:
            raise Fail(f"pod {pod.name}: only httpGet probes are emulated: {probe}")
        port = get["port"]
        if isinstance(port, str) and not port.isdigit():
            named = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
            if port not in named:
                # The kubelet: the probe fails ("port name not found"), the pod never ready.
                return f"unresolvable named port {port!r}"
            port = named[port]
        path = get.get("path", "/")
        return f"{get.get('scheme', 'HTTP').lower()}://{pod.ip}:{port}{path}"

    def probe(self, pod: Pod, kind: str) -> tuple[bool, str]:
        """All of the pod's containers' `kind` probes (none: success, as the kubelet)."""
        for c in pod.spec["containers"]:
            probe = c.get(kind)
            if not probe:
                continue
            url = self.probe_url(pod, c, probe)
            if url.startswith("unresolvable"):
                return False, f"{c['name']}: {kind} {url}"
            good, why = http_ok(url, probe.get("timeoutSeconds", 1))
            if not good:
                return False, f"{c['name']}: {kind} GET {url}: {why}"
        return True, "ok"

    def wait_ready(self, pods: list[Pod], seconds: float) -> None:
        """Startup probes, then readiness (then one liveness probe): every pod ready within
        `seconds`, or the check fails with the pod's state, last probe result and logs."""
        deadline = time.monotonic() + seconds
        pending = {p.name: p for p in pods}
        last: dict[str, str] = {}
        while pending:
            for name, pod in list(pending.items()):
                for c, status, code in self.state(pod):
                    if status not in ("running", "created", "configured", "initialized"):
                        raise Fail(f"pod {name} ({pod.kind}): container {c} {status} (exit {code}) before it was "
                                   f"ready; its last log lines:\n{self.logs(c)}")
                started, why = self.probe(pod, "startupProbe")
                if not started:
                    last[name] = why
                    continue
                ready, why = self.probe(pod, "readinessProbe")
                if ready:
                    alive, why_live = self.probe(pod, "livenessProbe")
                    if not alive:
                        last[name] = why_live
                        continue
                    pod.ready_after = time.monotonic() - pod.started
                    log(f"{name} ready after {pod.ready_after:.1f}s ({pod.ip})")
                    del pending[name]
                else:
                    last[name] = why
            if pending and time.monotonic() > deadline:
                details = "\n".join(f"  {n}: {last.get(n, '?')}\n    last log lines: "
                                    + self.logs(pending[n].containers()[0], 5).replace("\n", "\n      ")
                                    for n in pending)
                raise Fail(f"not ready after {seconds:.0f}s: {', '.join(pending)}\n{details}")
            if pending:
                time.sleep(1)

    def exec_in(self, pod: Pod, *cmd: str, input: str | None = None, env: dict[str, str] | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess:
        env_args = [a for k, v in (env or {}).items() for a in ("-e", f"{k}={v}")]
        return podman("exec", *(["-i"] if input is not None else []), *env_args, pod.containers()[0], *cmd,
                      check=False, input=input, timeout=timeout)

    def kill(self, pod: Pod) -> None:
        podman("pod", "kill", "--signal", "KILL", pod.name)
        podman("pod", "rm", "-f", pod.name)
        del self.pods[pod.name]

    def teardown(self) -> None:
        names = list(self.pods) + ["carrier-sim"]
        podman("pod", "kill", "--signal", "KILL", *names, check=False)
        podman("pod", "rm", "-f", "-t", "0", *names, check=False)
        for v in self.volumes:
            podman("volume", "rm", "-f", v, check=False)


# ---------------------------------------------------------------- breaking the render
BREAKS = {
    "mount-path": "the edge's NodeService TLS Secret mounted at /etc/herald/node-tl (herald.toml reads "
                  "/etc/herald/node-tls/...)",
    "secret-key": "the etcd client certificate Secret without its tls.key, which every Herald pod's "
                  "etcd-tls volume lists",
    "probe-port": "the connector's readiness probe on port 9091 (NodeService) instead of `admin` (9090)",
}


def deployment(objs: list[dict], role: str) -> dict:
    for o in objs:
        if o["kind"] == "Deployment" and o["metadata"]["name"].endswith(f"-{role}"):
            return o
    raise Fail(f"no {role} Deployment in the render")


def apply_break(objs: list[dict], kind: str) -> None:
    if kind == "mount-path":
        c = deployment(objs, "edge")["spec"]["template"]["spec"]["containers"][0]
        for m in c["volumeMounts"]:
            if m["name"] == "node-tls":
                m["mountPath"] = "/etc/herald/node-tl"
                return
        raise Fail("break mount-path: the edge mounts no node-tls volume")
    if kind == "secret-key":
        for o in objs:
            if o["kind"] == "Secret" and o["metadata"]["name"].endswith("-etcd-client-tls"):
                o["data"].pop("tls.key", None)
                return
        raise Fail("break secret-key: no etcd client certificate Secret in the render")
    if kind == "probe-port":
        c = deployment(objs, "connector")["spec"]["template"]["spec"]["containers"][0]
        c["readinessProbe"]["httpGet"]["port"] = 9091
        return
    raise Fail(f"unknown break {kind}")


# ---------------------------------------------------------------- traffic
def esme(python: str, root: Path, host: str, port: int, system_id: str, password: str, count: int,
         text: str, timeout: float, linger: float = 0) -> dict:
    """A third-party ESME (PyPI smpplib, tests/interop/esme_smpplib.py): binds, submits
    `count` messages asking for receipts, waits for every receipt."""
    cmd = [python, str(root / "tests/interop/esme_smpplib.py"), "--host", host, "--port", str(port),
           "--system-id", system_id, "--password", password, "--count", str(count),
           "--expect-deliver", str(count), "--timeout", str(timeout), "--text", text,
           "--linger", str(linger)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 15)
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise Fail(f"ESME {host}: no result (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}")
    result["exit"] = proc.returncode
    return result


def esme_problems(result: dict, count: int, label: str) -> list[str]:
    problems = []
    if result.get("error"):
        problems.append(f"{label}: {result['error']}")
    ids = [s.get("message_id") for s in result.get("submitted", [])]
    bad = [s for s in result.get("submitted", []) if s.get("status") != 0]
    if len(ids) != count or bad:
        problems.append(f"{label}: {len(ids)} submitted, {len(bad)} refused: {bad[:3]}")
    receipted = {d.get("receipted_message_id") for d in result.get("delivered", [])}
    missing = [i for i in ids if i not in receipted]
    if missing:
        problems.append(f"{label}: {len(missing)} of {len(ids)} messages got no receipt: {missing[:5]}")
    return problems


def sim_texts(cluster: Cluster) -> list[str]:
    out = podman("logs", "carrier-sim-sim", check=False).stdout
    return [line.split(" text=", 1)[1] for line in out.splitlines() if line.startswith("submit ") and " text=" in line]


def expect_at_carrier(cluster: Cluster, marker: str, count: int, seconds: float = 20) -> int:
    want = {f"{marker} {i}" for i in range(1, count + 1)}
    deadline = time.monotonic() + seconds
    while True:
        seen = [t for t in sim_texts(cluster) if t.startswith(marker + " ")]
        missing = want - set(seen)
        if not missing:
            dupes = len(seen) - len(set(seen))
            return dupes
        if time.monotonic() > deadline:
            raise Fail(f"{len(missing)} of {count} messages `{marker} N` never reached the carrier: "
                       f"{sorted(missing)[:5]}")
        time.sleep(0.5)


def ctl(cluster: Cluster, control: Pod, token: str, *args: str, input: str | None = None) -> str:
    p = cluster.exec_in(control, "heraldctl", *args, input=input, env={"HERALDCTL_TOKEN": token})
    if p.returncode != 0:
        raise Fail(f"heraldctl {' '.join(args)} (in {control.name}): exit {p.returncode}: "
                   f"{(p.stderr or p.stdout).strip()[-1500:]}")
    return p.stdout


def registered(cluster: Cluster, control: Pod, token: str) -> set[str]:
    """The node ids in etcd (heraldctl get nodes): the chart makes them the pod names."""
    nodes = json.loads(ctl(cluster, control, token, "get", "nodes", "-o", "json") or "{}")
    return {n.get("node_id") for n in nodes.get("nodes") or []}


def rules_yaml(sim_password: str, carrier_mount: str) -> str:
    scale_accounts = "".join(f"""  - id: scale{n}
    name: Pod check, edge pod {n}
    password: scalepw
    quota: {{ tps: 2000 }}
    window: 100
    max_binds: 4
""" for n in (1, 2, 3))
    return f"""# Applied by scripts/check-pods.sh through the control pod.
accounts:
  - id: demo
    name: Pod check account
    password: demopass
    quota: {{ tps: 2000 }}
    window: 100
    max_binds: 16
{scale_accounts}carriers:
  - id: sim
    name: Carrier simulator pod
    host: carrier-sim
    port: 2776
    system_id: herald
    password: {{ file: {carrier_mount}/sim }}
    binds: 1
    window: 50
    throughput: {{ tps: 5000 }}
routes:
  - id: everything
    description: Every destination to the simulator
    priority: 100
    action: {{ type: carrier, carrier: sim }}
"""


def merge(base: dict, over: dict) -> dict:
    """Helm's way with several values files: maps merged key by key, the rest replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# ---------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--values", type=Path, required=True)
    ap.add_argument("--extra-values", type=Path, action="append", default=[],
                    help="more values, merged over --values (e.g. 3 NATS servers and 3 etcd members)")
    ap.add_argument("--network", required=True)
    ap.add_argument("--subnet", required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--esme-python", default="python3")
    ap.add_argument("--break", dest="break_kind", choices=sorted(BREAKS))
    ap.add_argument("--messages", type=int, default=40)
    ap.add_argument("--ready-timeout", type=float, default=90)
    ap.add_argument("--keep", action="store_true", help="leave the pods running")
    args = ap.parse_args()

    t0 = time.monotonic()
    values = yaml.safe_load(args.values.read_text()) or {}
    for extra in args.extra_values:
        values = merge(values, yaml.safe_load(extra.read_text()) or {})
    control_token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    sim_password = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    values.setdefault("control", {}).setdefault("tokens", {})["tokens"] = [control_token]
    values.setdefault("connector", {}).setdefault("carrierPasswords", {})["passwords"] = {"sim": sim_password}
    objs = chart_check.render(args.root / "helm/herald", values)
    named = " + ".join(str(f) for f in [args.values.relative_to(args.root), *args.extra_values])
    ok(f"helm template with {named}: {len(objs)} objects "
       f"(NATS users, etcd TLS, NodeService TLS on)")
    if args.break_kind:
        apply_break(objs, args.break_kind)
        log(f"--break {args.break_kind}: {BREAKS[args.break_kind]}")

    prefix = args.subnet.rsplit(".", 1)[0]
    sim_ip = f"{prefix}.5"
    cluster = Cluster(objs, args.work, args.network, args.subnet, args.work.name,
                      extra_hosts={"carrier-sim": sim_ip})
    failed = False
    try:
        # The carrier simulator: the check's own pod, the carrier the rules point at.
        cluster.start_raw({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "carrier-sim", "labels": {"app": "carrier-sim"}},
            "spec": {"restartPolicy": "Never",
                     "securityContext": {"runAsNonRoot": True, "runAsUser": 65532},
                     "containers": [{"name": "sim", "image": "localhost/herald-sim:dev",
                                     "args": ["--listen", "0.0.0.0:2776", "--system-id", "herald",
                                              "--password", sim_password, "--receipt-delay-ms", "200",
                                              # As a carrier does, keep a receipt until a bind
                                              # takes it (up to 2 min): when the connector
                                              # holding the bind is killed, the bind moves to
                                              # another once its slot's lease runs out (~10 s).
                                              "--receipt-retries", "240", "--receipt-retry-delay-ms", "500"],
                                     "securityContext": {"readOnlyRootFilesystem": True,
                                                         "allowPrivilegeEscalation": False,
                                                         "capabilities": {"drop": ["ALL"]}}}]}}, sim_ip)

        # The bundled NATS and etcd (StatefulSets), then every role's Deployment.
        t_pods = time.monotonic()
        stateful = [o for o in objs if o["kind"] == "StatefulSet"]
        backing = [cluster.start(s) for s in stateful for _ in range(s["spec"].get("replicas", 1))]
        cluster.wait_ready(backing, args.ready_timeout)
        ok(f"StatefulSets ready: {', '.join(f'{p.name} {p.ready_after:.1f}s' for p in backing)}")
        # More than one NATS server: each must have routes to all the others (the route
        # password and the members' stable names work).
        nats_pods = [p for p in backing if p.labels.get("app.kubernetes.io/name") == "nats"]
        if len(nats_pods) > 1:
            deadline = time.monotonic() + 30
            while True:
                routes = {}
                for p in nats_pods:
                    try:
                        with urllib.request.urlopen(f"http://{p.ip}:8222/routez", timeout=2) as resp:
                            routes[p.name] = {r.get("remote_name") for r in json.load(resp).get("routes") or []}
                    except Exception as e:  # not up yet
                        routes[p.name] = {f"error: {e}"}
                short = {p.name: {q.name for q in nats_pods} - {p.name} - routes[p.name] for p in nats_pods}
                if not any(short.values()):
                    break
                if time.monotonic() > deadline:
                    raise Fail(f"NATS servers missing routes to: {short}")
                time.sleep(1)
            ok(f"NATS cluster: each of {len(nats_pods)} servers routes to the others")
        deployments = {o["metadata"]["name"].rsplit("-", 1)[1]: o for o in objs if o["kind"] == "Deployment"}
        role_pods: dict[str, list[Pod]] = {}
        for role in ("control", "router", "connector", "edge"):
            d = deployments[role]
            role_pods[role] = [cluster.start(d) for _ in range(d["spec"].get("replicas", 1))]
        cluster.wait_ready([p for ps in role_pods.values() for p in ps], args.ready_timeout)
        ok(f"{sum(len(v) for v in role_pods.values())} Herald pods ready (readiness and liveness probes pass) "
           f"in {time.monotonic() - t_pods:.1f}s: " + ", ".join(f"{r} x{len(ps)}" for r, ps in role_pods.items()))

        # Security context, as podman applied it.
        any_pod = role_pods["edge"][0]
        p = cluster.exec_in(any_pod, "sh", "-c", "id -u; id -g; touch /probe-rootfs 2>&1 || true")
        lines = p.stdout.strip().splitlines()
        if lines[:2] != ["65532", "65532"] or "Read-only file system" not in p.stdout:
            raise Fail(f"{any_pod.name}: not uid/gid 65532 on a read-only root: {p.stdout!r} {p.stderr!r}")
        ok("pods run as 65532:65532 with a read-only root filesystem")

        control = role_pods["control"][0]
        carrier_mount = values.get("connector", {}).get("carrierPasswords", {}).get("mountPath",
                                                                                    "/run/secrets/carriers")
        out = ctl(cluster, control, control_token, "apply", "-f", "/dev/stdin",
                  input=rules_yaml(sim_password, carrier_mount))
        ok("heraldctl apply (through the control pod): " + " ".join(out.split())[:160])
        node_ids = registered(cluster, control, control_token)
        missing_nodes = [p.name for ps in role_pods.values() for p in ps if p.name not in node_ids]
        if missing_nodes:
            raise Fail(f"nodes not registered in etcd: {missing_nodes} (heraldctl get nodes: {sorted(node_ids)})")
        ok(f"heraldctl get nodes: every pod registered ({len(node_ids)} nodes)")

        # Messages with receipts through each edge pod, to the carrier.
        time.sleep(2)  # the connectors bind to the new carrier
        for i, edge in enumerate(role_pods["edge"]):
            marker = f"run1-edge{i}"
            r = esme(args.esme_python, args.root, edge.ip, 2775, "demo", "demopass", args.messages,
                     marker + " {i}", 60)
            problems = esme_problems(r, args.messages, f"edge pod {edge.name}")
            if problems:
                raise Fail("\n".join(problems))
            dupes = expect_at_carrier(cluster, marker, args.messages)
            ok(f"{args.messages} messages through {edge.name} ({edge.ip}): each accepted, at the carrier, "
               f"receipt back{'' if not dupes else f' ({dupes} duplicates at the carrier)'}")

        # A pod killed while messages flow: the Deployment's replacement rejoins, nothing lost.
        # Sessions one after another (each within the account's window), alternating the
        # edge pods, from before the kill until after the replacement is ready. A router
        # first (messages it pulled and had not acked), then a connector (the carrier bind
        # it held, and the submits in flight on it).
        for role in ("router", "connector"):
            victim = role_pods[role][0]
            if role == "connector":
                # The connector that holds the carrier's bind (the rules allow one).
                listed = json.loads(ctl(cluster, control, control_token, "get", "binds", "-o", "json") or "{}")
                holders = {b.get("node") for b in listed.get("binds") or [] if b.get("carrier") == "sim"}
                held = [p for p in role_pods[role] if p.name in holders]
                if not held:
                    raise Fail(f"heraldctl get binds names no connector pod bound to the carrier: {listed}")
                victim = held[0]
            sessions, per = 8, max(10, args.messages // 2)
            results: list[tuple[str, dict]] = []

            def sender(role: str = role, sessions: int = sessions, per: int = per,
                       results: list = results) -> None:
                for n in range(sessions):
                    edge = role_pods["edge"][n % len(role_pods["edge"])]
                    marker = f"run2-{role}-kill{n}"
                    results.append((marker, esme(args.esme_python, args.root, edge.ip, 2775, "demo",
                                                 "demopass", per, marker + " {i}", 120)))
            th = threading.Thread(target=sender)
            t_kill = time.monotonic()
            th.start()
            time.sleep(2)
            cluster.kill(victim)
            log(f"killed {victim.name} (SIGKILL) while sessions were sending")
            replacement = cluster.start(deployments[role])
            cluster.wait_ready([replacement], args.ready_timeout)
            th.join()
            problems = []
            for marker, r in results:
                problems += esme_problems(r, per, f"session {marker}")
            if problems:
                raise Fail(f"{role} pod {victim.name} killed mid-traffic:\n" + "\n".join(problems))
            dupes = sum(expect_at_carrier(cluster, marker, per) for marker, _ in results)
            role_pods[role] = [p for p in role_pods[role] if p is not victim] + [replacement]
            deadline = time.monotonic() + 20
            while True:
                node_ids = registered(cluster, control, control_token)
                if replacement.name in node_ids:
                    break
                if time.monotonic() > deadline:
                    raise Fail(f"the replacement {replacement.name} never registered: {sorted(node_ids)}")
                time.sleep(1)
            what = "the carrier's bind holder, " if role == "connector" else ""
            ok(f"{role} pod {victim.name} ({what}killed with SIGKILL) mid-traffic: replacement {replacement.name} ready "
               f"in {replacement.ready_after:.1f}s and registered; all {sessions * per} messages of {sessions} "
               f"sessions around the kill reached the carrier with receipts ({dupes} duplicates at the carrier; "
               f"{time.monotonic() - t_kill:.1f}s)")
        # Traffic after the kill goes through the replacement too (both routers serve).
        r = esme(args.esme_python, args.root, role_pods["edge"][1].ip, 2775, "demo", "demopass",
                 args.messages, "run3-after {i}", 60)
        problems = esme_problems(r, args.messages, "after the replacement")
        if problems:
            raise Fail("\n".join(problems))
        expect_at_carrier(cluster, "run3-after", args.messages)
        ok(f"{args.messages} more messages after the replacement joined: all delivered with receipts")

        # Scale the edge to 3: the new pod takes binds.
        new_edge = cluster.start(deployments["edge"])
        cluster.wait_ready([new_edge], args.ready_timeout)
        role_pods["edge"].append(new_edge)
        by_edge: dict[str, dict] = {}

        # One account per session: SMPP hands a receipt to any session of the account, so
        # sessions of one account bound at once would take each other's receipts.
        def session(pod: Pod, account: str) -> None:
            by_edge[pod.name] = esme(args.esme_python, args.root, pod.ip, 2775, account, "scalepw",
                                     args.messages, f"run4-{pod.name} {{i}}", 60, linger=3)
        threads = [threading.Thread(target=session, args=(p, f"scale{n}"))
                   for n, p in enumerate(role_pods["edge"], start=1)]
        for t in threads:
            t.start()
        # The nodes the sessions are bound on, seen while they are (heraldctl get sessions).
        bound_on: set[str] = set()
        while any(t.is_alive() for t in threads):
            listed = json.loads(ctl(cluster, control, control_token, "get", "sessions", "-o", "json") or "{}")
            bound_on |= {s.get("node") for s in listed.get("sessions") or []}
            time.sleep(0.2)
        for t in threads:
            t.join()
        problems = []
        for p in role_pods["edge"]:
            problems += esme_problems(by_edge[p.name], args.messages, f"edge {p.name}")
        if problems:
            raise Fail("\n".join(problems))
        for p in role_pods["edge"]:
            expect_at_carrier(cluster, f"run4-{p.name}", args.messages)
        if new_edge.name not in bound_on:
            raise Fail(f"heraldctl get sessions never listed a session on the new pod {new_edge.name} while "
                       f"the binds were up; nodes seen: {sorted(bound_on)}")
        ok(f"edge scaled to 3: {new_edge.name} ready in {new_edge.ready_after:.1f}s; a bind to each edge pod "
           f"(heraldctl get sessions saw them on {len(bound_on & {p.name for p in role_pods['edge']})} of 3 pods, "
           f"the new one included) delivered {args.messages} messages each with receipts")
        # At the end, every pod still running, ready and alive (no crash, no failing probe
        # after the traffic, the kills and the scaling).
        problems = []
        for pod in cluster.pods.values():
            for c, status, code in cluster.state(pod):
                if status != "running":
                    problems.append(f"{pod.name}: container {c} {status} (exit {code})")
            for kind in ("readinessProbe", "livenessProbe"):
                good, why = cluster.probe(pod, kind)
                if not good:
                    problems.append(f"{pod.name}: {why}")
        if problems:
            raise Fail("at the end:\n" + "\n".join(problems))
        ok(f"at the end all {len(cluster.pods)} pods are running, ready and alive")
        ok(f"pod check done in {time.monotonic() - t0:.1f}s")
    except Fail as e:
        failed = True
        print(f"FAIL {e}", flush=True)
    except Exception as e:  # a bug of the check, or an answer it did not expect
        import traceback
        failed = True
        print(f"FAIL {type(e).__name__}: {e}\n{traceback.format_exc()}", flush=True)
    finally:
        if not args.keep:
            cluster.teardown()
            log("pods, volumes torn down")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
