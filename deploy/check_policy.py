"""Checks that schemas cannot make on rendered manifests (run by check.sh).

Usage: check_policy.py REPO_ROOT OTEL_CONFIG RENDERED.yaml[:production]...
A file marked `:production` must carry no placeholder secret.
Each failure is printed; the exit status is the number of failures (capped).
"""

import re
import sys
from pathlib import Path

import yaml

failures: list[str] = []


def fail(where: str, message: str) -> None:
    failures.append(f"{where}: {message}")


def config_keys(repo: Path) -> set[str]:
    # sessionsd refuses unknown SESSIONS_* variables, so a misspelt key in a
    # ConfigMap would crash-loop every pod. The names come from the one table
    # of variable -> nested key.
    source = (repo / "crates/server/src/config/env.rs").read_text()
    body = re.search(r"pub\(crate\) const ENV_KEYS: [^=]*= &\[(.*?)\n\];", source, re.S)
    if not body:
        sys.exit("check_policy: ENV_KEYS not found in crates/server/src/config/env.rs")
    names = re.findall(r'\(\s*"([A-Z0-9_]+)",\s*"[a-z0-9_.]+",?\s*\)', body.group(1))
    if not names:
        sys.exit("check_policy: ENV_KEYS has no entries")
    return {f"SESSIONS_{name}" for name in names}


def env_names(pod: dict, maps: dict[str, dict]) -> dict[str, str]:
    """Every variable a pod's containers get, with its value where known."""
    names: dict[str, str] = {}
    for container in pod.get("containers", []):
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef") or source.get("secretRef") or {}
            names.update(maps.get(ref.get("name"), {}))
        for var in container.get("env", []):
            names[var["name"]] = var.get("value", "")
    return names


def check_pod(where: str, pod: dict, maps: dict[str, dict], keys: set[str]) -> dict:
    security = pod.get("securityContext", {})
    if security.get("runAsNonRoot") is not True:
        fail(where, "pod securityContext.runAsNonRoot must be true")
    if security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        fail(where, "pod seccompProfile must be RuntimeDefault")
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        own = container.get("securityContext", {})
        name = f"{where} container {container['name']}"
        if own.get("allowPrivilegeEscalation") is not False:
            fail(name, "allowPrivilegeEscalation must be false")
        if own.get("readOnlyRootFilesystem") is not True:
            fail(name, "readOnlyRootFilesystem must be true")
        if "ALL" not in own.get("capabilities", {}).get("drop", []):
            fail(name, "capabilities must drop ALL")
        if "memory" not in container.get("resources", {}).get("limits", {}):
            fail(name, "needs a memory limit")
    env = env_names(pod, maps)
    for var in env:
        if var.startswith("SESSIONS_") and var not in keys:
            fail(where, f"{var} is not a sessionsd setting (crates/server/src/config/env.rs)")
    return env


def check_server(where: str, pod: dict, env: dict) -> None:
    container = pod["containers"][0]
    probes = {
        "readinessProbe": "/readyz",
        "livenessProbe": "/healthz",
    }
    for probe, path in probes.items():
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") not in ("admin", 9090):
            fail(where, f"{probe} must GET {path} on the admin port")
    # SIGKILL must not cut the drain short.
    grace = int(env.get("SESSIONS_SHUTDOWN_GRACE_SECS", 20))
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {})
    budget = grace + int(pre_stop.get("seconds", 0))
    if pod.get("terminationGracePeriodSeconds", 30) <= budget:
        fail(where, f"terminationGracePeriodSeconds must exceed preStop + grace ({budget}s)")


def check_render(path: Path, production: bool, keys: set[str]) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    maps = {
        d["metadata"]["name"]: {**d.get("data", {}), **d.get("stringData", {})}
        for d in docs
        if d["kind"] in ("ConfigMap", "Secret")
    }
    for doc in docs:
        where = f"{path.name} {doc['kind']}/{doc['metadata']['name']}"
        spec = doc.get("spec", {})
        if doc["kind"] in ("Deployment", "Job"):
            pod = spec["template"]["spec"]
            env = check_pod(where, pod, maps, keys)
            if doc["kind"] == "Deployment":
                check_server(where, pod, env)
                if "replicas" in spec:
                    fail(where, "leave replicas to the HPA")
        if doc["kind"] == "HorizontalPodAutoscaler" and spec["minReplicas"] > spec["maxReplicas"]:
            fail(where, "minReplicas above maxReplicas")
        if production and doc["kind"] == "Secret":
            fail(where, "production must not ship a Secret (it would overwrite the real one)")
    if production and "CHANGE_ME" in path.read_text():
        fail(path.name, "placeholder value CHANGE_ME in a production render")


def check_otel(path: Path) -> None:
    # Every component a pipeline names must be defined, as the collector checks.
    config = yaml.safe_load(path.read_text())
    for name, pipeline in config["service"]["pipelines"].items():
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                if component not in (config.get(section) or {}):
                    fail(path.name, f"pipeline {name} uses undefined {section[:-1]} {component}")


def main() -> int:
    repo, otel, *renders = sys.argv[1:]
    keys = config_keys(Path(repo))
    for spec in renders:
        path, _, mark = spec.partition(":")
        check_render(Path(path), mark == "production", keys)
    check_otel(Path(otel))
    for failure in failures:
        print(f"POLICY {failure}")
    return min(len(failures), 100)


if __name__ == "__main__":
    sys.exit(main())
