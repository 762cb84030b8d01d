#!/usr/bin/env python3
"""Runs the sidecar overlay's pod for real with `podman kube play`.

The pod is deploy/kubernetes/overlays/sidecar as rendered by kubectl, with
only what podman cannot do or what the test must supply changed:
  - Deployment -> Pod (restartPolicy Never, so the function runs once);
  - the native sidecar (initContainers, restartPolicy Always, which needs a
    real cluster) becomes the pod's first ordinary container;
  - the Secret and ConfigMaps become hostPath directories laid out the way
    the kubelet lays them out (`..data` symlinks, Secret modes 0440, group
    = fsGroup), mounted read-only as in the manifest;
  - the config gets `egress.allow_cidrs: [127.0.0.0/8]` for the test origin;
  - an origin container (python3) listens on the pod's loopback, and the
    function container runs curl: first /readyz on health_listen, then a
    request with `X-Api-Key: {{cred:test.canary}}` through the sidecar.
The origin must receive the canary secret; the sidecar's and function's
logs must not contain it. The pod is always taken down (`podman kube down`).

  tests/deploy/pod_test.py [--image localhost/credproxy:dev]
      [--function-image localhost/credproxy-test-function:bookworm]

The image's own credproxy prepares the vault (as root, in a throwaway
container writing to the test's directory).
Exit 77 (skipped) when podman, kubectl or PyYAML is missing.
"""
import argparse
import copy
import json
import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
REPO = pathlib.Path(__file__).resolve().parents[2]
UID = 65532
ORIGIN_PORT = 18081
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl")
PODMAN = ["podman", "--runtime", "runc"]

try:
    import yaml
except ImportError:
    yaml = None

# A bare-socket origin: the function image's python3-minimal has no http.server.
ORIGIN_SCRIPT = f"""
import socket
server = socket.create_server(("127.0.0.1", {ORIGIN_PORT}))
while True:
    conn, _ = server.accept()
    with conn:
        head = b""
        while b"\\r\\n\\r\\n" not in head and len(head) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            head += chunk
        for line in head.decode("latin-1").split("\\r\\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "x-api-key":
                print("origin got X-Api-Key:", value.strip(), flush=True)
        conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 10\\r\\nConnection: close\\r\\n\\r\\norigin-ok\\n")
"""


def run(argv, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("timeout", 120)
    result = subprocess.run(argv, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} ... exited {result.returncode}: {result.stderr.strip()}")
    return result


def chown_for_pod(path: pathlib.Path, uid: int | None, gid: int) -> None:
    """Ownership as the container sees it (rootless podman maps IDs)."""
    owner = f"{0 if uid is None else uid}:{gid}"
    if os.geteuid() == 0:
        os.chown(path, 0 if uid is None else uid, gid, follow_symlinks=False)
    else:
        run(["podman", "unshare", "chown", "-h", owner, str(path)])


def kubelet_layout(directory: pathlib.Path, files: dict[str, bytes], mode: int, gid: int) -> None:
    """Files in a timestamped dir behind `..data`, as Secret/ConfigMap volumes are."""
    directory.mkdir()
    stamp = directory / "..2026_12_05_00_00_00.000000000"
    stamp.mkdir()
    for name, content in files.items():
        (stamp / name).write_bytes(content)
        os.chmod(stamp / name, mode)
        chown_for_pod(stamp / name, None, gid)
        (directory / name).symlink_to(f"..data/{name}")
    (directory / "..data").symlink_to(stamp.name)
    os.chmod(stamp, 0o755)
    os.chmod(directory, 0o1777)  # what the kubelet gives a volume's root


def prepare_vault(image: str, work: pathlib.Path, canary: str) -> dict[str, bytes]:
    """The vault, its key and the CA, made by the image's own credproxy."""
    host_dir = work / "prepare"
    host_dir.mkdir()
    (host_dir / "credproxy.yaml").write_text(
        "vault:\n  path: /prepare/credproxy.vault\n  key_file: /prepare/credproxy.key\n")
    base = PODMAN + ["run", "--rm", "-i", "--network=none", "--user", "0:0",
                     "-v", f"{host_dir}:/prepare", image]
    tail = ["--config", "/prepare/credproxy.yaml"]
    run(base + ["vault", "init"] + tail)
    document = {"type": "api_key", "secret": canary, "hosts": [f"http://127.0.0.1:{ORIGIN_PORT}"],
                "allowPlaintext": True}
    run(base + ["cred", "add", "--solution", "default", "--key", "test.canary", "--json", "-"] + tail,
        input=json.dumps(document))
    ca_pem = run(base + ["ca", "export"] + tail).stdout.encode()
    return {
        "vault": {"credproxy.vault": (host_dir / "credproxy.vault").read_bytes(),
                  "credproxy.key": (host_dir / "credproxy.key").read_bytes()},
        "ca": {"ca.pem": ca_pem,
               "bundle.pem": pathlib.Path("/etc/ssl/certs/ca-certificates.crt").read_bytes() + ca_pem},
    }


def render_sidecar() -> list[dict]:
    out = run([KUBECTL, "kustomize", str(REPO / "deploy/kubernetes/overlays/sidecar")]).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def pod_from(objects: list[dict], args, work: pathlib.Path, name: str, files: dict) -> dict:
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    config_map = next(o for o in objects if o["kind"] == "ConfigMap")
    spec = copy.deepcopy(deployment["spec"]["template"]["spec"])
    sidecars = [c for c in spec.pop("initContainers") if c.pop("restartPolicy", None) == "Always"]
    assert [c["name"] for c in sidecars] == ["credproxy"], "the overlay's native sidecar"
    spec["containers"] = sidecars + spec["containers"]
    spec["restartPolicy"] = "Never"

    config = yaml.safe_load(config_map["data"]["credproxy.yaml"])
    config.setdefault("egress", {})["allow_cidrs"] = ["127.0.0.0/8"]
    directories = {"config": {"credproxy.yaml": yaml.safe_dump(config).encode()},
                   "vault": files["vault"], "credproxy-ca": files["ca"]}
    for volume in spec["volumes"]:
        secret = volume.pop("secret", None)
        volume.pop("configMap", None)
        path = work / volume["name"]
        mode = secret.get("defaultMode", 0o644) if secret else 0o644
        kubelet_layout(path, directories[volume["name"]], mode, spec["securityContext"]["fsGroup"])
        volume["hostPath"] = {"path": str(path), "type": "Directory"}

    for c in spec["containers"]:
        if c["name"] == "credproxy":
            c["image"] = args.image
        elif c["name"] == "function":
            c["image"] = args.function_image
            c["command"] = ["/bin/sh", "-c", function_script()]
    # The origin's script comes from a file: podman's YAML reader chokes on
    # a multi-line string in `command`.
    (work / "origin").mkdir()
    (work / "origin" / "origin.py").write_text(ORIGIN_SCRIPT)
    spec["volumes"].append({"name": "origin", "hostPath": {"path": str(work / "origin"), "type": "Directory"}})
    origin = copy.deepcopy(next(c for c in spec["containers"] if c["name"] == "function"))
    origin.update(name="origin", command=["/usr/bin/python3", "/origin/origin.py"], env=[],
                  volumeMounts=[{"name": "origin", "mountPath": "/origin", "readOnly": True}])
    spec["containers"].insert(1, origin)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def function_script() -> str:
    # Ready first (health_listen, bypassing the proxy), then the real call;
    # curl retries refused connections and 5xx answers, bounded in time.
    retry = "--retry 60 --retry-connrefused --retry-delay 1 --retry-max-time 90 --max-time 10"
    return (f"/usr/bin/curl -sS --fail {retry} --noproxy '*' http://127.0.0.1:9091/readyz >/dev/null && "
            f"/usr/bin/curl -sS --fail-with-body {retry} -H 'X-Api-Key: {{{{cred:test.canary}}}}' "
            f"http://127.0.0.1:{ORIGIN_PORT}/probe")


def logs(container: str) -> str:
    result = subprocess.run(PODMAN + ["logs", container], capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr


def check_pod(name: str, canary: str) -> list[str]:
    problems = []
    function, sidecar, origin = (f"{name}-{c}" for c in ("function", "credproxy", "origin"))
    subprocess.run(PODMAN + ["wait", function], capture_output=True, timeout=180, check=True)
    code = run(PODMAN + ["inspect", "-f", "{{.State.ExitCode}}", function]).stdout.strip()
    function_log, sidecar_log, origin_log = logs(function), logs(sidecar), logs(origin)
    print(f"--- function (exit {code})\n{function_log.replace(canary, '<CANARY>')}")
    print(f"--- credproxy sidecar\n{sidecar_log.replace(canary, '<CANARY>')}")
    print(f"--- origin\n{origin_log.replace(canary, '<CANARY>')}")
    if code != "0" or "origin-ok" not in function_log:
        problems.append(f"the function's call through the sidecar failed (exit {code})")
    if f"origin got X-Api-Key: {canary}" not in origin_log:
        problems.append("the origin did not receive the injected credential")
    for label, text in (("sidecar", sidecar_log), ("function", function_log)):
        if canary in text:
            problems.append(f"the canary secret appears in the {label}'s logs")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", default="localhost/credproxy:dev")
    parser.add_argument("--function-image", default="localhost/credproxy-test-function:bookworm")
    args = parser.parse_args()
    for tool, why in ((shutil.which("podman"), "podman is not installed"),
                      (KUBECTL, "no kubectl to render the overlay"), (yaml, "python3-yaml is not installed")):
        if not tool:
            print(f"SKIP: {why} (deploy/install-deps.sh --containers)")
            return SKIP
    os.environ.setdefault("CONTAINERS_CONF", str(REPO / "deploy/podman/containers.conf"))

    canary = "canary-" + secrets.token_hex(16)
    name = f"credproxy-pod-test-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="credproxy-pod-") as tmp:
        work = pathlib.Path(tmp)
        os.chmod(work, 0o755)
        pod = pod_from(render_sidecar(), args, work, name, prepare_vault(args.image, work, canary))
        manifest = work / "pod.yaml"
        manifest.write_text(json.dumps(pod, indent=1))  # JSON is YAML; podman misreads some PyYAML output
        try:
            run(PODMAN + ["kube", "play", str(manifest)], timeout=180)
            problems = check_pod(name, canary)
        finally:
            subprocess.run(PODMAN + ["kube", "down", str(manifest)], capture_output=True, timeout=120)
    for problem in problems:
        print(f"FAIL: {problem}")
    if not problems:
        print("PASS: the function reached the origin through the sidecar, which injected the canary")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
