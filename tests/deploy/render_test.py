#!/usr/bin/env python3
"""Renders deploy/kubernetes's overlays and checks them against their config.

`kubectl kustomize` (or $KUBECTL) renders each overlay offline; the checks
read the credproxy.yaml inside the rendered ConfigMap and hold the pod spec
to it: container ports and probes on listen/health_listen, the function's
proxy and CA variables, the vault Secret mounted read-only where vault.path
and vault.key_file point, the gateway's Service, NetworkPolicy and required
proxy auth, and the security context of every container. The PostgreSQL
variants: the DSN from a Secret, the database CA mounted, several gateway
replicas with a disruption budget and the schema migrated first. The pod's UID must
be the image's (deploy/Dockerfile USER).

Exit 77 (skipped) when no kubectl is installed or PyYAML is missing.
"""
import os
import pathlib
import posixpath
import re
import shutil
import subprocess
import sys
import unittest

SKIP = 77
REPO = pathlib.Path(__file__).resolve().parents[2]
OVERLAYS = REPO / "deploy" / "kubernetes" / "overlays"
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl")

try:
    import yaml
except ImportError:  # checked in main() before any test runs
    yaml = None

# SPEC §8's keys (and the ones the deployments set); anything else in a
# shipped config is a typo the proxy would refuse.
SPEC_KEYS = {
    "listen", "admin_listen", "health_listen", "workers", "default_solution",
    "vault.path", "vault.key_file", "upstream.ca_file", "upstream.connect_timeout_ms",
    "upstream.idle_timeout_ms", "upstream.proxy", "egress.allow_cidrs", "connect.intercept",
    "store.backend", "store.postgres.dsn", "log.level", "log.format",
}
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")


def render(overlay: str) -> list[dict]:
    out = subprocess.run([KUBECTL, "kustomize", str(OVERLAYS / overlay)], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        path = prefix + key
        if isinstance(value, dict):
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def host_port(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host, int(port)


def image_uid() -> int:
    text = (REPO / "deploy" / "Dockerfile").read_text()
    return int(re.findall(r"^USER (\d+)", text, re.M)[-1])


class Rendered:
    """One overlay's objects, its credproxy config and its credproxy container."""

    def __init__(self, overlay: str):
        self.objects = render(overlay)
        self.deployment = self.one("Deployment")
        self.pod = self.deployment["spec"]["template"]["spec"]
        self.proxy = self.credproxy_container()
        config_dir, config_name = self.config_path()
        self.config_dir = config_dir
        config_map = self.volume_source(config_dir, "configMap")
        documents = [o for o in self.objects if o["kind"] == "ConfigMap"
                     and o["metadata"]["name"] == config_map["name"]]
        assert len(documents) == 1, f"ConfigMap {config_map['name']} is not rendered"
        self.config = yaml.safe_load(documents[0]["data"][config_name])

    def one(self, kind: str) -> dict:
        found = [o for o in self.objects if o["kind"] == kind]
        assert len(found) == 1, f"expected one {kind}, got {len(found)}"
        return found[0]

    def credproxy_container(self) -> dict:
        every = self.pod.get("initContainers", []) + self.pod["containers"]
        found = [c for c in every if c["name"] == "credproxy"]
        assert len(found) == 1, "expected one container named credproxy"
        return found[0]

    def config_path(self) -> tuple[str, str]:
        args = self.proxy["args"]
        path = args[args.index("--config") + 1]
        return posixpath.dirname(path), posixpath.basename(path)

    def mount_of(self, container: dict, path: str) -> dict:
        """The volume mount holding `path` (the longest mountPath prefix)."""
        mounts = [m for m in container.get("volumeMounts", [])
                  if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")]
        assert mounts, f"{container['name']}: nothing mounted at {path}"
        return max(mounts, key=lambda m: len(m["mountPath"]))

    def volume_source(self, path: str, kind: str, container: dict | None = None) -> dict:
        mount = self.mount_of(container or self.proxy, path)
        volume = next(v for v in self.pod["volumes"] if v["name"] == mount["name"])
        assert kind in volume, f"{path} is not on a {kind} volume: {volume}"
        return volume[kind]

    def port_number(self, container: dict, port) -> int:
        if isinstance(port, int):
            return port
        return next(p["containerPort"] for p in container["ports"] if p["name"] == port)

    def env(self, container: dict) -> dict:
        return {e["name"]: e.get("value") for e in container.get("env", [])}


class Common:
    overlay = ""

    @classmethod
    def setUpClass(cls):
        cls.r = Rendered(cls.overlay)

    def test_config_uses_only_spec_keys(self):
        unknown = set(flatten(self.r.config)) - SPEC_KEYS
        self.assertEqual(unknown, set(), "keys outside SPEC §8")

    def test_probes_hit_health_listen(self):
        host, port = host_port(self.r.config["health_listen"])
        self.assertEqual(host, "0.0.0.0", "the kubelet probes the pod's address")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                            ("startupProbe", "/healthz")):
            get = self.r.proxy[probe]["httpGet"]
            self.assertEqual(get["path"], path, probe)
            self.assertEqual(self.r.port_number(self.r.proxy, get["port"]), port, probe)

    def test_admin_api_is_not_exposed(self):
        admin = self.r.config.get("admin_listen", "127.0.0.1:9090")
        self.assertTrue(admin == "" or admin.startswith("127.0.0.1:"), admin)
        exposed = {p["containerPort"] for p in self.r.proxy.get("ports", [])}
        if admin:
            self.assertNotIn(host_port(admin)[1], exposed)

    def test_vault_comes_read_only_from_a_secret(self):
        on_postgres = self.r.config.get("store", {}).get("backend") == "postgres"
        # On PostgreSQL the vault is in the database: only the key is a file.
        if on_postgres:
            self.assertNotIn("path", self.r.config["vault"], "vault.path is unused with store.backend: postgres")
        for key in ("key_file",) if on_postgres else ("path", "key_file"):
            path = self.r.config["vault"][key]
            self.assertTrue(path.startswith("/"), f"vault.{key} must not depend on the config dir")
            secret = self.r.volume_source(posixpath.dirname(path), "secret")
            self.assertIn(secret.get("defaultMode", 0o644), (0o440, 0o444, 0o400))
            self.assertTrue(self.r.mount_of(self.r.proxy, path).get("readOnly"), path)
        self.assertTrue(self.r.mount_of(self.r.proxy, self.r.config_dir).get("readOnly"))

    def test_every_container_is_locked_down(self):
        pod_context = self.r.pod.get("securityContext", {})
        self.assertEqual(pod_context.get("runAsUser"), image_uid(), "the image's USER")
        for c in self.r.pod.get("initContainers", []) + self.r.pod["containers"]:
            context = c.get("securityContext", {})
            merged = {**pod_context, **context}
            with self.subTest(container=c["name"]):
                self.assertIs(merged.get("runAsNonRoot"), True)
                self.assertIs(context.get("readOnlyRootFilesystem"), True)
                self.assertIs(context.get("allowPrivilegeEscalation"), False)
                self.assertIn("ALL", context.get("capabilities", {}).get("drop", []))
                self.assertEqual(merged.get("seccompProfile", {}).get("type"), "RuntimeDefault")
        self.assertIs(self.r.pod.get("automountServiceAccountToken"), False)


class Sidecar(Common, unittest.TestCase):
    overlay = "sidecar"

    def function(self) -> dict:
        others = [c for c in self.r.pod["containers"] if c["name"] != "credproxy"]
        self.assertEqual(len(others), 1, "one function container")
        return others[0]

    def test_credproxy_is_a_native_sidecar(self):
        init = self.r.pod.get("initContainers", [])
        self.assertEqual([c["name"] for c in init], ["credproxy"])
        self.assertEqual(init[0].get("restartPolicy"), "Always")

    def test_proxy_is_loopback_only_without_auth(self):
        host, _ = host_port(self.r.config["listen"])
        self.assertEqual(host, "127.0.0.1")
        self.assertTrue(self.r.config["default_solution"], "a loopback sidecar serves a default solution")

    def test_function_uses_the_sidecar(self):
        env = self.r.env(self.function())
        _, port = host_port(self.r.config["listen"])
        for name in PROXY_VARIABLES:
            self.assertEqual(env.get(name), f"http://127.0.0.1:{port}", name)
        self.assertNotIn("NO_PROXY", env)
        self.assertNotIn("no_proxy", env)

    def test_function_trusts_the_credproxy_ca(self):
        function = self.function()
        env = self.r.env(function)
        for name in CA_VARIABLES:
            with self.subTest(variable=name):
                self.assertIn(name, env)
                ca = self.r.volume_source(posixpath.dirname(env[name]), "configMap", function)
                self.assertEqual(ca["name"], "credproxy-ca")


class Gateway(Common, unittest.TestCase):
    overlay = "gateway"

    def test_clients_must_use_proxy_tokens(self):
        self.assertEqual(self.r.config["default_solution"], "")
        self.assertEqual(host_port(self.r.config["listen"])[0], "0.0.0.0")
        self.assertNotIn("initContainers", self.r.pod)

    def test_service_targets_the_proxy_port(self):
        service = self.r.one("Service")
        _, port = host_port(self.r.config["listen"])
        target = service["spec"]["ports"][0]["targetPort"]
        self.assertEqual(self.r.port_number(self.r.proxy, target), port)
        labels = self.r.deployment["spec"]["template"]["metadata"]["labels"]
        self.assertLessEqual(service["spec"]["selector"].items(), labels.items())

    def test_network_policy_admits_only_clients_to_the_proxy(self):
        policy = self.r.one("NetworkPolicy")["spec"]
        labels = self.r.deployment["spec"]["template"]["metadata"]["labels"]
        self.assertLessEqual(policy["podSelector"]["matchLabels"].items(), labels.items())
        self.assertIn("Ingress", policy["policyTypes"])
        _, proxy_port = host_port(self.r.config["listen"])
        for rule in policy["ingress"]:
            ports = {self.r.port_number(self.r.proxy, p["port"]) for p in rule["ports"]}
            if proxy_port in ports:
                self.assertTrue(rule.get("from"), "the proxy port is open only to selected clients")


class OnPostgres:
    """The store in PostgreSQL: the DSN (it may hold a password) comes from a
    Secret through the environment, never from the ConfigMap, and the
    server's CA is mounted read-only where the DSN's sslrootcert points."""

    def dsn_source(self, container: dict) -> dict:
        found = [e for e in container.get("env", []) if e["name"] == "CREDPROXY_STORE_POSTGRES_DSN"]
        self.assertEqual(len(found), 1, f"{container['name']}: CREDPROXY_STORE_POSTGRES_DSN")
        return found[0]

    def test_store_is_postgres_with_the_dsn_from_a_secret(self):
        self.assertEqual(self.r.config["store"]["backend"], "postgres")
        self.assertNotIn("postgres", self.r.config["store"], "the DSN must not be in the ConfigMap")
        source = self.dsn_source(self.r.proxy)
        self.assertNotIn("value", source)
        self.assertEqual(source["valueFrom"]["secretKeyRef"]["name"], "credproxy-postgres")

    def test_database_ca_is_mounted_read_only(self):
        secret = self.r.volume_source("/etc/credproxy-postgres/ca.pem", "secret")
        self.assertEqual(secret["secretName"], "credproxy-postgres")
        self.assertIn(secret.get("defaultMode", 0o644), (0o440, 0o444, 0o400))
        self.assertTrue(self.r.mount_of(self.r.proxy, "/etc/credproxy-postgres/ca.pem").get("readOnly"))


class GatewayOnPostgres(OnPostgres, Gateway):
    overlay = "gateway-postgres"

    def test_clients_must_use_proxy_tokens(self):
        self.assertEqual(self.r.config["default_solution"], "")
        self.assertEqual(host_port(self.r.config["listen"])[0], "0.0.0.0")

    def test_several_replicas_and_a_disruption_budget(self):
        self.assertGreaterEqual(self.r.deployment["spec"]["replicas"], 2)
        budget = self.r.one("PodDisruptionBudget")["spec"]
        labels = self.r.deployment["spec"]["template"]["metadata"]["labels"]
        self.assertLessEqual(budget["selector"]["matchLabels"].items(), labels.items())
        self.assertEqual(budget.get("maxUnavailable"), 1)

    def test_schema_is_migrated_before_the_proxy_starts(self):
        init = self.r.pod.get("initContainers", [])
        self.assertEqual([c["name"] for c in init], ["store-migrate"])
        migrate = init[0]
        self.assertNotIn("restartPolicy", migrate, "runs to completion first, not as a sidecar")
        self.assertEqual(migrate["args"][:2], ["store", "migrate"])
        self.assertEqual(migrate["args"][2:], self.r.proxy["args"][1:], "the same --config as serve")
        self.assertEqual(migrate["image"], self.r.proxy["image"])
        self.assertEqual(self.dsn_source(migrate), self.dsn_source(self.r.proxy))


class SidecarOnPostgres(OnPostgres, Sidecar):
    overlay = "sidecar-postgres"


def main() -> int:
    if not KUBECTL:
        print("SKIP: no kubectl (with kustomize) installed; deploy/install-deps.sh --containers installs one")
        return SKIP
    if yaml is None:
        print("SKIP: python3-yaml is not installed")
        return SKIP
    print(f"rendering with {KUBECTL}")
    result = unittest.main(exit=False, verbosity=2).result
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
