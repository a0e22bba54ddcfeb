#!/usr/bin/env python3
"""Helpers of scripts/check-observability.sh: the metric names Herald's dashboards and
alert rules use, checked against reality; and the little process and HTTP plumbing the
script needs (python3 is there on a fresh Debian 12; curl and procps may not be).

    obs.py names                  print every metric name used, and where
    obs.py static                 check them against crates/telemetry/src/names.rs
    obs.py live --prometheus URL  check them against the names a Prometheus server
                                  scraped, and that every expression evaluates on it
    obs.py wait-names --prometheus URL --timeout S
                                  wait until Prometheus has every name used (at most S)
    obs.py alerts                 every alert has a severity, summary, description and a
                                  runbook_url whose heading exists in docs/operations.md,
                                  and unit tests where it fires and where it does not
    obs.py free-ports N           print N free loopback ports
    obs.py wait-http URL --timeout S   wait until URL answers 2xx (exit 1 after S)
    obs.py post URL USER:PASS JSON     POST JSON with basic auth; print the status
    obs.py children PID           print the pids of PID's children

Expressions come from helm/herald/files/dashboards/*.json (panel targets and variable
queries) and helm/herald/files/alerts/herald.rules.yaml (`expr` of every rule). Names are
found with a small PromQL scanner: string literals, label matchers `{...}`, ranges
`[...]`, grouping clauses (`by`, `without`, `on`, `ignoring`, `group_left`,
`group_right` with their label lists), function and aggregation calls, keywords and
numbers are dropped; what is left are metric names. Grafana's variables are replaced
first (`$__rate_interval` by `1m`, any other `$var` / `${var}` by `.*`, which only
appears inside matcher strings). Histogram series (`_bucket`, `_sum`, `_count`) are
checked as such against Prometheus and by their family name against names.rs.

Standard library only: it runs on a fresh Debian 12 python3.
"""
import json
import re
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "helm/herald/files/dashboards"
RULES = ROOT / "helm/herald/files/alerts/herald.rules.yaml"
NAMES_RS = ROOT / "crates/telemetry/src/names.rs"
METRICS_MD = ROOT / "docs/metrics.md"
# Labels Prometheus adds to every series (target labels) or that belong to a metric type.
TARGET_LABELS = {"__name__", "job", "instance", "namespace", "le", "quantile"}

KEYWORDS = {
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
    "group_left", "group_right", "inf", "nan", "atan2", "start", "end",
}
HIST_SUFFIXES = ("_bucket", "_sum", "_count")


def grafana_vars(expr):
    expr = re.sub(r"\$__(rate_interval|interval|range)\b", "1m", expr)
    expr = re.sub(r"\$\{[^}]*\}", ".*", expr)
    expr = re.sub(r"\$[A-Za-z_]\w*", ".*", expr)
    expr = re.sub(r"\[\[[^\]]*\]\]", ".*", expr)
    return expr


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)


def names_in(expr):
    """The metric names in one PromQL expression."""
    e = strip_strings(expr)
    e = re.sub(r"#[^\n]*", " ", e)  # comments
    e = re.sub(r"\{[^{}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\[\]]*\]", " ", e)  # ranges and subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", e)
    found = set()
    for m in re.finditer(r"(?<![\w:.])([A-Za-z_:][\w:]*)", e):
        word = m.group(1)
        rest = e[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or aggregation
        if word.lower() in KEYWORDS:
            continue
        found.add(word)
    return found


def variable_names(query):
    """Names in a Grafana Prometheus variable query (label_values(metric{...}, label), ...)."""
    if isinstance(query, dict):
        query = query.get("query", "")
    q = grafana_vars(query or "")
    m = re.match(r"\s*label_values\(\s*(.*),\s*\w+\s*\)\s*$", q, re.S)
    if m:
        return names_in(m.group(1))
    m = re.match(r"\s*label_names\(\s*(.*)\)\s*$", q, re.S)
    if m:
        return names_in(m.group(1)) if m.group(1).strip() else set()
    m = re.match(r"\s*query_result\(\s*(.*)\)\s*$", q, re.S)
    if m:
        return names_in(m.group(1))
    m = re.match(r"\s*metrics\(.*\)\s*$", q, re.S)
    if m:
        return set()
    return names_in(q)


def load_rules():
    """(alert or record name, expr) of every rule; a tiny reader for the rule file's shape."""
    text = RULES.read_text()
    try:
        import yaml  # type: ignore

        doc = yaml.safe_load(text)
        return [(r.get("alert") or r.get("record"), r["expr"]) for g in doc["groups"] for r in g["rules"]]
    except ImportError:
        pass
    # Without PyYAML: the file's own layout (`- alert: X` then `expr: |` block or inline).
    rules, name, lines = [], None, text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"\s*-\s*(alert|record):\s*(\S+)", line)
        if m:
            name = m.group(2)
        m = re.match(r"(\s*)expr:\s*(.*)$", line)
        if m:
            indent, rest = len(m.group(1)), m.group(2).strip()
            if rest in ("|", "|-", ">", ">-"):
                body = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                    body.append(lines[i].strip())
                    i += 1
                rules.append((name, "\n".join(body)))
                continue
            rules.append((name, rest.strip("'\"")))
        i += 1
    return rules


def expressions():
    """(where, expr, names) for every expression of the dashboards and the rules."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dash = json.loads(path.read_text())
        for v in dash.get("templating", {}).get("list", []):
            if v.get("type") == "query":
                q = v.get("query")
                qs = q.get("query", "") if isinstance(q, dict) else (q or "")
                out.append((f"{path.name} variable {v['name']}", qs, variable_names(q), None))
        panels = []
        for p in dash.get("panels", []):
            panels.append(p)
            panels.extend(p.get("panels", []) if p.get("type") == "row" else [])
        for p in panels:
            for t in p.get("targets", []):
                expr = t.get("expr", "")
                subst = grafana_vars(expr)
                out.append((f"{path.name} panel \"{p.get('title')}\" {t.get('refId')}", expr, names_in(subst), subst))
    for name, expr in load_rules():
        out.append((f"{RULES.name} {name}", expr, names_in(expr), expr))
    return out


def family(name):
    for s in HIST_SUFFIXES:
        if name.endswith(s):
            return name[: -len(s)]
    return name


def used():
    by_name = {}
    for where, _, names, _ in expressions():
        for n in names:
            by_name.setdefault(n, []).append(where)
    return by_name


def cmd_names():
    for n, wheres in sorted(used().items()):
        print(f"{n}  ({len(wheres)}: {wheres[0]}{', ...' if len(wheres) > 1 else ''})")
    return 0


def defined_names():
    text = NAMES_RS.read_text()
    return set(re.findall(r'pub const [A-Z0-9_]+: &str = "(herald_[a-z0-9_]+)";', text))


def cmd_static():
    defined = defined_names()
    by_name = used()
    unknown = sorted(n for n in by_name if family(n) not in defined)
    if unknown:
        for n in unknown:
            print(f"  {n}: not a metric of crates/telemetry/src/names.rs (used by {', '.join(by_name[n][:3])})")
        print(f"metric names (static): FAILED, {len(unknown)} of {len(by_name)} names used are not Herald metrics")
        return 1
    unused = sorted(defined - {family(n) for n in by_name})
    note = f"; not shown anywhere: {', '.join(unused)}" if unused else ""
    print(f"metric names (static): ok, all {len(by_name)} names used are Herald metrics{note}")
    return 0


def prom_get(base, path, params=None):
    url = base.rstrip("/") + path + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read() or b"{}")


def prom_names(base):
    body = prom_get(base, "/api/v1/label/__name__/values")
    return set(body.get("data") or [])


def cmd_wait_names(base, timeout):
    want = set(used())
    deadline = time.time() + timeout
    while True:
        missing = want - prom_names(base)
        if not missing or time.time() >= deadline:
            return 0
        time.sleep(1)


def documented_labels():
    """docs/metrics.md: metric name -> the label keys its table row lists."""
    labels = {}
    for line in METRICS_MD.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or not re.fullmatch(r"`herald_[a-z0-9_]+`", cells[0]):
            continue
        labels[cells[0].strip("`")] = set(re.findall(r"`([a-z_]+)`", cells[3]))
    return labels


def label_mismatches(base):
    """Every scraped herald_* series whose label keys differ from docs/metrics.md."""
    body = prom_get(base, "/api/v1/series", {"match[]": '{__name__=~"herald_.+"}'})
    documented = documented_labels()
    seen = {}
    for series in body.get("data") or []:
        name = family(series["__name__"])
        seen.setdefault(name, set()).add(frozenset(set(series) - TARGET_LABELS))
    problems = []
    for name, key_sets in sorted(seen.items()):
        want = documented.get(name)
        if want is None:
            problems.append(f"  {name}: exported but not in docs/metrics.md")
            continue
        for keys in sorted(key_sets, key=sorted):
            if set(keys) != want:
                problems.append(
                    f"  {name}: exported with labels {sorted(keys)}, docs/metrics.md says {sorted(want)}"
                )
    return problems, len(seen)


def cmd_live(base):
    seen = prom_names(base)
    herald_seen = sorted(n for n in seen if n.startswith("herald_"))
    by_name = used()
    failed = False
    missing = sorted(n for n in by_name if n not in seen)
    for n in missing:
        print(f"  {n}: never scraped (used by {', '.join(by_name[n][:3])}{', ...' if len(by_name[n]) > 3 else ''})")
    # The labels each exported series carries must be the ones docs/metrics.md (and so the
    # dashboards' `by (...)` clauses) rely on.
    label_problems, families = label_mismatches(base)
    for line in label_problems:
        print(line)
    if missing or label_problems:
        failed = True
        print(
            f"metric names (live): FAILED, {len(missing)} of {len(by_name)} names used were never scraped "
            f"from the running nodes; {len(label_problems)} label sets differ from docs/metrics.md"
        )
    else:
        print(
            f"metric names (live): ok, all {len(by_name)} names used were scraped from running nodes "
            f"({len(herald_seen)} herald_* names seen, labels of {families} families as docs/metrics.md says)"
        )
    # Every expression must parse and evaluate on a real Prometheus.
    bad = 0
    empty = []
    exprs = [(w, s) for w, _, _, s in expressions() if s is not None]
    for where, expr in exprs:
        body = prom_get(base, "/api/v1/query", {"query": expr})
        if body.get("status") != "success":
            bad += 1
            print(f"  {where}: {body.get('errorType')}: {body.get('error')}")
        elif not body.get("data", {}).get("result") and not where.startswith(RULES.name):
            empty.append(where)
    # Grafana variables: label_values(selector, label) asks for the label's values.
    for where, query, _, subst in expressions():
        if subst is not None:
            continue
        m = re.match(r"\s*label_values\(\s*(.*),\s*(\w+)\s*\)\s*$", grafana_vars(query), re.S)
        if not m:
            continue
        exprs.append((where, query))
        body = prom_get(base, f"/api/v1/label/{m.group(2)}/values", {"match[]": m.group(1)})
        if body.get("status") != "success":
            bad += 1
            print(f"  {where}: {body.get('errorType')}: {body.get('error')}")
        elif not body.get("data"):
            empty.append(where)
    # Not a failure (an error ratio is empty without errors), but worth a look.
    for where in empty:
        print(f"  (no data now) {where}")
    if bad:
        failed = True
        print(f"expressions (live): FAILED, {bad} of {len(exprs)} do not evaluate")
    else:
        print(f"expressions (live): ok, all {len(exprs)} dashboard, variable and rule queries evaluate on Prometheus ({len(empty)} without data now)")
    return 1 if failed else 0


def cmd_free_ports(n):
    """n loopback ports free now; port p+4000 (NATS monitor) and p+1 (etcd peer) of the
    first two are free too, as `herald dev` puts them there.

    They are drawn from below the kernel's ephemeral range: a port inside it can be handed
    to some process's outgoing connection (or a `:0` listener, which the roles here use
    for their gRPC ports) between our check and the server's bind."""
    import random

    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    low, high = 10000, max(10000 + 4 * n, ephemeral_low - 4001)

    def free(p):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
                return True
            except OSError:
                return False

    chosen = []
    tries = 0
    while len(chosen) < n:
        tries += 1
        if tries > 10000:
            raise SystemExit("no free ports")
        p = random.randint(low, high)
        if p in chosen or (p + 1) in chosen or (p + 4000) in chosen or not free(p):
            continue
        if len(chosen) == 0 and not free(p + 4000):
            continue
        if len(chosen) == 1 and not free(p + 1):
            continue
        if any(p in (c + 1, c + 4000) for c in chosen[:2]):
            continue
        chosen.append(p)
    print(" ".join(map(str, chosen)))
    return 0


def load_rule_docs():
    """Every alert rule as a dict (needs PyYAML, else the layout reader for labels)."""
    try:
        import yaml  # type: ignore
    except ImportError:
        return None
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def cmd_alerts():
    ops = ROOT / "docs/operations.md"
    anchors = set()
    for line in ops.read_text().splitlines():
        m = re.match(r"#+\s+(.*)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    rules = load_rule_docs()
    if rules is None:
        print("alerts: FAILED, PyYAML is missing (Debian: apt-get install python3-yaml)")
        return 1
    tests = {}
    try:
        import yaml  # type: ignore

        for path in sorted((RULES.parent / "tests").glob("*.yaml")):
            for t in yaml.safe_load(path.read_text()).get("tests", []):
                for a in t.get("alert_rule_test", []):
                    kind = "fires" if a.get("exp_alerts") else "silent"
                    tests.setdefault(a["alertname"], set()).add(kind)
    except ImportError:
        pass
    problems = []
    for r in rules:
        name = r["alert"]
        sev = (r.get("labels") or {}).get("severity")
        if sev not in ("critical", "warning"):
            problems.append(f"{name}: severity label must be critical or warning, not {sev!r}")
        ann = r.get("annotations") or {}
        for key in ("summary", "description", "runbook_url"):
            if not ann.get(key):
                problems.append(f"{name}: no {key} annotation")
        url = ann.get("runbook_url", "")
        want = f"docs/operations.md#{name.lower()}"
        if url != want:
            problems.append(f"{name}: runbook_url is {url!r}, expected {want!r}")
        elif name.lower() not in anchors:
            problems.append(f"{name}: docs/operations.md has no heading for #{name.lower()}")
        for kind in ("fires", "silent"):
            if kind not in tests.get(name, set()):
                problems.append(f"{name}: no unit test where it {'fires' if kind == 'fires' else 'does not fire'}")
    for p in problems:
        print(f"  {p}")
    if problems:
        print(f"alerts: FAILED, {len(problems)} problem(s) in {len(rules)} alerts")
        return 1
    print(f"alerts: ok, {len(rules)} alerts with severity, summary, description, a runbook in docs/operations.md, and tests that fire and that do not")
    return 0


def cmd_wait_http(url, timeout):
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if 200 <= r.status < 300:
                    return 0
        except (urllib.error.URLError, OSError):
            pass
        if time.time() >= deadline:
            return 1
        time.sleep(0.2)


def cmd_post(url, auth, body):
    import base64

    req = urllib.request.Request(url, data=body.encode(), method="POST")
    req.add_header("content-type", "application/json")
    req.add_header("authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            print(r.status)
    except urllib.error.HTTPError as e:
        print(e.code)
    except (urllib.error.URLError, OSError) as e:
        print(f"error: {e}")
    return 0


def cmd_children(pid):
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            print(stat.parent.name)
    return 0


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    cmd = argv[0]
    opt = {}
    rest = argv[1:]
    while rest:
        if rest[0].startswith("--") and len(rest) > 1:
            opt[rest[0][2:]] = rest[1]
            rest = rest[2:]
        else:
            opt.setdefault("args", []).append(rest[0])
            rest = rest[1:]
    if cmd == "names":
        return cmd_names()
    if cmd == "static":
        return cmd_static()
    if cmd == "live":
        return cmd_live(opt["prometheus"])
    if cmd == "wait-names":
        return cmd_wait_names(opt["prometheus"], float(opt.get("timeout", "30")))
    if cmd == "alerts":
        return cmd_alerts()
    if cmd == "wait-http":
        return cmd_wait_http(opt["args"][0], float(opt.get("timeout", "30")))
    if cmd == "post":
        return cmd_post(*opt["args"][:3])
    if cmd == "children":
        return cmd_children(int(opt["args"][0]))
    if cmd == "free-ports":
        return cmd_free_ports(int(opt["args"][0]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
