"""The deployment files under deploy/, read and checked against the code they run.

No container engine runs here, so the image, the Compose stack and the Kubernetes
manifests are never started by the tests; what reading can catch is caught: a service
without a container or a Deployment, a wrong port or probe, a misspelt ``MOTCUA_``
variable or an invalid value, a secret with a default, a manifest left out of the
kustomization, a uv version other than the Makefile's.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices, SecretStr
from pydantic_settings import BaseSettings

from motcua.runtime.settings import DEV_JWT_SECRET, Settings
from services.interagency.settings import InteragencySettings
from services.notify.settings import NotifySettings
from services.payment.settings import DEV_GATEWAY_SECRET, PaymentSettings
from services.portal.settings import PortalSettings
from services.postal.settings import PostalSettings
from services.registry import NAMES as SERVICE_NAMES
from services.registry import SERVICES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (
    Settings,
    PaymentSettings,
    NotifySettings,
    InteragencySettings,
    PortalSettings,
    PostalSettings,
)
# Variables in the manifests that are not ours: libpq's, read by the PostgreSQL driver.
FOREIGN_VARIABLES = {"PGSSLMODE", "PGSSLROOTCERT"}
MEASURED_MEMORY_MIB = 150  # resident size of one service process
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")


@pytest.fixture(autouse=True)
def _no_motcua_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings() below must see the defaults, not the developer's environment."""
    for name in list(os.environ):
        if name.upper().startswith("MOTCUA_"):
            monkeypatch.delenv(name)


# -- helpers --------------------------------------------------------------------------


def setting_variables() -> set[str]:
    """Every environment variable some settings class reads, e.g. MOTCUA_JWT_SECRET."""
    names = set()
    for cls in SETTINGS_CLASSES:
        prefix = cls.model_config.get("env_prefix", "")
        for field, info in cls.model_fields.items():
            alias = info.validation_alias  # read under that name, without the prefix
            if isinstance(alias, AliasChoices):
                names |= {str(choice).upper() for choice in alias.choices}
            else:
                names.add(f"{prefix}{field}".upper())
    return names


def secret_variables() -> set[str]:
    """The variables whose settings are secrets (typed SecretStr)."""
    names = set()
    for cls in SETTINGS_CLASSES:
        prefix = cls.model_config.get("env_prefix", "")
        for field, info in cls.model_fields.items():
            annotation = info.annotation
            if annotation is SecretStr or SecretStr in get_args(annotation):
                names.add(f"{prefix}{field}".upper())
    return names


def resolve(value: Any) -> str:
    """A Compose value with ``${VAR:-default}`` as its default, other variables as 'x'."""

    def one(match: re.Match[str]) -> str:
        op = match.group("op") or ""
        return (match.group("arg") or "") if op in (":-", "-") else "x"

    return INTERPOLATION.sub(one, str(value))


def has_no_default(value: str) -> bool:
    """``${VAR}`` or ``${VAR:?message}``: Compose refuses to start without VAR."""
    match = INTERPOLATION.fullmatch(value)
    return match is not None and match.group("op") in (None, ":?", "?")


def validate_settings(variables: dict[str, str]) -> None:
    """Each settings class accepts the values (an invalid one raises ValidationError)."""
    values = {
        name.removeprefix("MOTCUA_").lower(): value
        for name, value in variables.items()
        if name.startswith("MOTCUA_")
    }
    for cls in SETTINGS_CLASSES:
        cls.model_validate(values)  # extra="ignore": the other classes' keys are skipped


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def compose_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    return services


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the ["NAME=value"] form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def published_container_ports(services: dict[str, dict[str, Any]], name: str) -> set[int]:
    """The container ports published for ``name`` (on the container whose network it uses)."""
    service = services[name]
    network = str(service.get("network_mode", ""))
    if network.startswith("service:"):
        service = services[network.removeprefix("service:")]
    ports = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:  # [address:]published:container[/protocol]
            ports.add(int(resolve(entry).rsplit(":", 1)[-1].split("/")[0]))
    return ports


def healthcheck_url(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    urls = [part for part in test if str(part).startswith("http")]
    assert len(urls) == 1, f"healthcheck without exactly one URL: {test}"
    return str(urls[0])


def k8s_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def k8s_documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in k8s_files():
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield path, document


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    found = [d for _, d in k8s_documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r} in deploy/k8s, found {len(found)}"
    return found[0]


def k8s_kind(kind: str) -> list[dict[str, Any]]:
    return [d for _, d in k8s_documents() if d["kind"] == kind]


def configmap_and_secret() -> tuple[dict[str, str], dict[str, str]]:
    (configmap,) = k8s_kind("ConfigMap")
    (secret,) = k8s_kind("Secret")
    data = {k: str(v) for k, v in configmap["data"].items()}
    secrets = {k: str(v) for k, v in (secret.get("stringData") or {}).items()}
    return data, secrets


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0, "K": 1e3 / 2**20, "M": 1e6 / 2**20}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", str(quantity))
    assert match, f"unreadable memory quantity {quantity!r}"
    number, unit = match.groups()
    return float(number) * units[unit] if unit else float(number) / 2**20


def cores(quantity: str) -> float:
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


# -- Compose --------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_compose_runs_every_service_from_the_image(name: str) -> None:
    services = compose_services()
    assert name in services, f"deploy/compose.yaml has no service {name!r}"
    service = services[name]
    intake = services["intake"]
    assert service["image"] == intake["image"], "every service runs the one motcua image"
    assert "entrypoint" not in service, "the image's entry point runs ops.serve"
    assert service["command"] == [name]


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_compose_service_port_probe_and_dependencies(name: str) -> None:
    services = compose_services()
    service = services[name]
    port = Settings().port_of(name)
    assert port in published_container_ports(services, name), f"{name}: port {port} unpublished"
    url = urlsplit(healthcheck_url(service))
    assert (url.port, url.path) == (port, "/readyz")
    depends = service["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["kafka"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_compose_service_environment(name: str) -> None:
    env = environment(compose_services()[name])
    assert env["MOTCUA_HOST"] == "0.0.0.0"
    assert env["MOTCUA_KAFKA_IDEMPOTENT_PRODUCER"] == "true"
    assert env["MOTCUA_TOPIC_REPLICATION_FACTOR"] == "1", "a single broker holds one replica"
    assert urlsplit(resolve(env["MOTCUA_DATABASE_URL"])).scheme == "postgresql"
    assert env["MOTCUA_KAFKA_BOOTSTRAP_SERVERS"]
    # The JWT key comes from deploy/.env with no default: never the documented dev key.
    assert has_no_default(env["MOTCUA_JWT_SECRET"]), "MOTCUA_JWT_SECRET needs no default"
    assert DEV_JWT_SECRET not in (DEPLOY / "compose.yaml").read_text()
    validate_settings({k: resolve(v) for k, v in env.items()})


def test_compose_reaches_postgres_and_kafka() -> None:
    services = compose_services()
    kafka, postgres = services["kafka"], services["postgres"]
    env_kafka, env_pg = environment(kafka), environment(postgres)
    assert kafka["image"].startswith("apache/kafka:")
    assert postgres["image"].startswith("postgres:")
    for name in SERVICE_NAMES:
        env = environment(services[name])
        # The containers reach the broker at an address it advertises.
        bootstrap = env["MOTCUA_KAFKA_BOOTSTRAP_SERVERS"]
        advertised = [
            a.split("://", 1)[1] for a in env_kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
        ]
        assert bootstrap in advertised, f"{name}: {bootstrap} is not advertised by kafka"
        assert bootstrap.split(":")[0] in ("kafka", kafka.get("hostname"))
        # ... and the database the postgres container creates.
        url = urlsplit(resolve(env["MOTCUA_DATABASE_URL"]))
        assert url.hostname == "postgres"
        assert url.username == env_pg["POSTGRES_USER"]
        assert url.path.lstrip("/") == env_pg["POSTGRES_DB"]
        assert url.port in (None, 5432)
        assert env["MOTCUA_DATABASE_URL"].count("${POSTGRES_PASSWORD") == 1
    assert postgres["volumes"], "PostgreSQL keeps its data in a volume"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_compose_kafka_is_a_single_kraft_node_without_auto_create() -> None:
    env = environment(compose_services()["kafka"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["CLUSTER_ID"]
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    listeners = {item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")}
    advertised = {item.split("://")[0] for item in env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    assert listeners <= set(protocols), "every listener needs a security protocol"
    assert advertised <= listeners
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners - advertised
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised


def test_compose_payment_uses_the_gateway_simulator_with_a_shared_secret() -> None:
    services = compose_services()
    (sim_name,) = [
        name
        for name, s in services.items()
        if s.get("entrypoint") == ["python", "-m", "devtools.gateway_simulator"]
    ]
    sim, payment = services[sim_name], services["payment"]
    env_sim, env_pay = environment(sim), environment(payment)
    sim_port = int(env_sim.get("MOTCUA_GATEWAY_SIM_PORT", PaymentSettings().gateway_sim_port))
    gateway = urlsplit(env_pay["MOTCUA_PAYMENT_GATEWAY_URL"])
    callback = urlsplit(env_pay["MOTCUA_PAYMENT_CALLBACK_URL"])
    # The simulator listens on 127.0.0.1 only: it must share payment's network namespace.
    assert sim.get("network_mode"), "the simulator binds 127.0.0.1: share payment's network"
    assert sim["network_mode"] == payment.get("network_mode")
    assert (gateway.hostname, gateway.port) == ("127.0.0.1", sim_port)
    assert (callback.hostname, callback.port) == ("127.0.0.1", Settings().port_of("payment"))
    secret = env_pay["MOTCUA_PAYMENT_GATEWAY_SECRET"]
    assert env_sim["MOTCUA_PAYMENT_GATEWAY_SECRET"] == secret, "both sides sign with one key"
    assert has_no_default(secret), "the gateway key needs no default"
    assert DEV_GATEWAY_SECRET not in (DEPLOY / "compose.yaml").read_text()
    assert sim_port in published_container_ports(services, sim_name), "the hosted page"
    assert urlsplit(healthcheck_url(sim)).port == sim_port


def test_compose_notify_uses_the_sinks() -> None:
    services = compose_services()
    (sinks_name,) = [
        name
        for name, s in services.items()
        if s.get("entrypoint") == ["python", "-m", "devtools.sinks"]
    ]
    sinks, notify = services[sinks_name], services["notify"]
    env_sinks, env_notify = environment(sinks), environment(notify)
    defaults = NotifySettings()
    assert sinks["network_mode"] == notify["network_mode"], "the sinks bind 127.0.0.1"
    smtp_port = int(env_sinks.get("MOTCUA_SMTP_PORT", defaults.smtp_port))
    sinks_port = int(env_sinks.get("MOTCUA_SINKS_PORT", defaults.sinks_port))
    assert env_notify.get("MOTCUA_SMTP_HOST", defaults.smtp_host) == "127.0.0.1"
    assert int(env_notify.get("MOTCUA_SMTP_PORT", defaults.smtp_port)) == smtp_port
    sms = urlsplit(env_notify.get("MOTCUA_SMS_URL", defaults.sms_url))
    assert (sms.hostname, sms.port) == ("127.0.0.1", sinks_port)
    assert sinks_port in published_container_ports(services, sinks_name)


def test_compose_variables_are_real_settings() -> None:
    known = setting_variables()
    text = (DEPLOY / "compose.yaml").read_text()
    used = {m.group("name") for m in INTERPOLATION.finditer(text)}
    for service in compose_services().values():
        used |= set(environment(service))
    example = (DEPLOY / "env.example").read_text()
    used |= set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    unknown = sorted(n for n in used if n.startswith("MOTCUA_") and n not in known)
    assert not unknown, f"not a setting (misspelt?): {unknown}"
    # The variables Compose needs from deploy/.env are all in the example.
    required = {
        m.group("name") for m in INTERPOLATION.finditer(text) if m.group("op") in (None, ":?", "?")
    }
    missing = sorted(required - set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE)))
    assert not missing, f"required by compose.yaml but not in deploy/env.example: {missing}"


def test_compose_builds_the_image_from_the_repository() -> None:
    services = compose_services()
    build = services["intake"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == ROOT
    assert (context / build["dockerfile"]).resolve() == DOCKERFILE


# -- Kubernetes -----------------------------------------------------------------------


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed)), "a manifest listed twice"
    assert set(listed) == {p.name for p in k8s_files()}
    (namespace,) = k8s_kind("Namespace")
    assert kustomization["namespace"] == namespace["metadata"]["name"]
    for _, document in k8s_documents():
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == namespace["metadata"]["name"]
    images = {image["name"] for image in kustomization["images"]}
    for deployment in k8s_kind("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["image"].split(":")[0] in images, "kustomize sets the image"


def test_every_k8s_object_is_well_formed() -> None:
    for path, document in k8s_documents():
        assert {"apiVersion", "kind", "metadata"} <= set(document), path
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", document["metadata"]["name"])
    assert {d["kind"] for _, d in k8s_documents()} >= {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
    }


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_k8s_deployment(name: str) -> None:
    port = Settings().port_of(name)
    deployment = k8s_object("Deployment", name)
    spec = deployment["spec"]
    template = spec["template"]
    labels = template["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    (container,) = template["spec"]["containers"]
    assert container["args"] == [name]
    assert "command" not in container, "the image's entry point runs ops.serve"
    ports = {p.get("name", str(p["containerPort"])): p["containerPort"] for p in container["ports"]}
    assert port in ports.values()

    def probe(kind: str) -> tuple[str, int]:
        get = container[kind]["httpGet"]
        target = get["port"]
        return get["path"], ports[target] if isinstance(target, str) else target

    assert probe("livenessProbe") == ("/healthz", port)
    assert probe("readinessProbe") == ("/readyz", port)
    assert probe("startupProbe")[1] == port

    resources = container["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[kind]), kind
    request, limit = (mebibytes(resources[k]["memory"]) for k in ("requests", "limits"))
    assert MEASURED_MEMORY_MIB < request <= limit
    assert cores(resources["requests"]["cpu"]) <= cores(resources["limits"]["cpu"])

    env_from = {next(iter(ref)): ref[next(iter(ref))]["name"] for ref in container["envFrom"]}
    (configmap,) = k8s_kind("ConfigMap")
    (secret,) = k8s_kind("Secret")
    assert env_from == {
        "configMapRef": configmap["metadata"]["name"],
        "secretRef": secret["metadata"]["name"],
    }

    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_k8s_deployment_runs_as_non_root_on_a_read_only_root(name: str) -> None:
    pod = k8s_object("Deployment", name)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pod_security = pod.get("securityContext", {})
    security = {**pod_security, **container.get("securityContext", {})}
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["runAsUser"] == image_user(), "the image's numeric user"
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert set(mounts.values()) <= set(volumes), "a mount without a volume"
    configmap, _ = configmap_and_secret()
    # The services create their var dir at start: it must be writable.
    for path in ("/tmp", configmap.get("MOTCUA_VAR_DIR", image_env()["MOTCUA_VAR_DIR"])):
        assert path in mounts, f"{path} is not mounted"
        assert "emptyDir" in volumes[mounts[path]]
    cafile = configmap.get("MOTCUA_KAFKA_SSL_CAFILE")
    if cafile:
        assert any(cafile.startswith(path.rstrip("/") + "/") for path in mounts), cafile


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_k8s_service(name: str) -> None:
    port = Settings().port_of(name)
    service = k8s_object("Service", name)
    template = k8s_object("Deployment", name)["spec"]["template"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    (container,) = template["spec"]["containers"]
    named = {p.get("name"): p["containerPort"] for p in container["ports"]}
    (entry,) = service["spec"]["ports"]
    assert entry["port"] == port
    target = entry.get("targetPort", entry["port"])
    assert (named[target] if isinstance(target, str) else target) == port


def test_k8s_variables_are_real_settings_and_valid() -> None:
    data, secrets = configmap_and_secret()
    known = setting_variables() | FOREIGN_VARIABLES
    unknown = sorted(set(data) - known) + sorted(set(secrets) - known)
    assert not unknown, f"not a setting (misspelt?): {unknown}"
    assert data["MOTCUA_HOST"] == "0.0.0.0"
    assert data["MOTCUA_KAFKA_IDEMPOTENT_PRODUCER"] == "true"
    assert int(data["MOTCUA_TOPIC_REPLICATION_FACTOR"]) >= 3, "a production cluster"
    validate_settings({**data, **secrets})


def test_k8s_secrets_are_only_in_the_secret_and_only_placeholders() -> None:
    data, secrets = configmap_and_secret()
    leaked = sorted(set(data) & secret_variables())
    assert not leaked, f"secrets in the ConfigMap: {leaked}"
    required = {
        "MOTCUA_DATABASE_URL",
        "MOTCUA_JWT_SECRET",
        "MOTCUA_PAYMENT_GATEWAY_SECRET",
        "MOTCUA_KAFKA_SASL_PASSWORD",
    }
    assert required <= set(secrets)
    assert secret_variables() & set(secrets) >= required - {"MOTCUA_DATABASE_URL"}
    real = sorted(k for k, v in secrets.items() if "CHANGE-ME" not in v)
    assert not real, f"not a marked placeholder: {real}"


# -- the image ------------------------------------------------------------------------


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            env |= dict(re.findall(r'(\w+)="?([^"\s]*)"?', rest))
    return env


def image_user() -> int:
    users = [rest for keyword, rest in dockerfile_instructions() if keyword == "USER"]
    assert users, "the image runs as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "a numeric user, so that runAsNonRoot can be verified"
    return int(uid)


def test_dockerfile_uv_version_is_the_makefiles() -> None:
    makefile = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    docker = re.search(r"^ARG UV_VERSION=(\S+)", DOCKERFILE.read_text(), re.M)
    assert makefile, "no UV_VERSION in the Makefile"
    assert docker, "no ARG UV_VERSION in deploy/Dockerfile"
    assert docker.group(1) == makefile.group(1)
    runs = [rest for keyword, rest in dockerfile_instructions() if keyword == "RUN"]
    assert any("uv==${UV_VERSION}" in run for run in runs)
    commands = [c.strip() for run in runs for c in re.split(r"&&|;", run)]
    syncs = [c for c in commands if c.startswith("uv sync")]
    assert syncs, "the dependencies are installed with uv sync"
    for sync in syncs:
        assert {"--frozen", "--no-dev"} <= set(sync.split()), f"{sync}: not the locked set"


def test_dockerfile_image() -> None:
    instructions = dockerfile_instructions()
    args = dict(rest.split("=", 1) for kw, rest in instructions if kw == "ARG" and "=" in rest)
    stages = [rest.split() for keyword, rest in instructions if keyword == "FROM"]
    names = {s[2] for s in stages if len(s) == 3 and s[1].upper() == "AS"}
    bases = [s[0] for s in stages if s[0] not in names]
    assert bases
    assert all(
        b.replace("${PYTHON_IMAGE}", args["PYTHON_IMAGE"]) == "python:3.11-slim" for b in bases
    )
    (entrypoint,) = [json.loads(rest) for keyword, rest in instructions if keyword == "ENTRYPOINT"]
    assert entrypoint == ["python", "-m", "ops.serve"]
    (cmd,) = [json.loads(rest) for keyword, rest in instructions if keyword == "CMD"]
    assert len(cmd) == 1
    assert cmd[0] in SERVICE_NAMES
    assert image_user() != 0
    assert image_env()["MOTCUA_HOST"] == "0.0.0.0"
    assert image_env()["PATH"].startswith("/opt/venv/bin")


def test_the_default_image_is_the_product_and_the_dev_target_adds_devtools() -> None:
    stages: list[tuple[str, list[str]]] = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "FROM":
            stages.append((rest.split()[-1], []))
        elif stages:
            stages[-1][1].append(f"{keyword} {rest}")
    by_name = dict(stages)
    last, last_body = stages[-1]
    assert last == "product"
    assert not any("devtools" in line for line in last_body)
    assert not any("devtools" in line for line in by_name["runtime"])
    assert any(line.startswith("COPY --from=build /src/devtools") for line in by_name["dev"])
    services = compose_services()
    stand_ins = [s for s in services.values() if "devtools" in " ".join(s.get("entrypoint", []))]
    assert len(stand_ins) == len([s for s in SERVICES if s.companion is not None])
    for stand_in in stand_ins:
        assert stand_in["build"]["target"] == "dev"
    for name in SERVICE_NAMES:
        assert "target" not in services[name]["build"], "services run the product image"


def test_dockerfile_copies_every_package_and_the_ignore_file_lets_them_through() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    copied = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "COPY" and "--from" not in rest:
            copied += rest.split()[:-1]
    assert set(packages) <= set(copied), "a package of the wheel is not copied"
    assert pyproject["project"]["readme"] in copied, "hatchling needs the readme"
    for source in copied:
        assert (ROOT / source).exists(), source
    for source in copied:
        assert not ignored(source), f"{source} is copied but excluded from the context"
    for local in (".venv", ".git", "var/intake.db", "deploy/.env", "motcua/__pycache__"):
        assert ignored(local), f"{local} would be sent to the builder"


def ignored(path: str) -> bool:
    """Whether the build context leaves ``path`` out, as BuildKit reads the ignore file.

    BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile. The last pattern
    that matches the path or one of its parent directories decides; ``*`` and ``?``
    stop at '/', ``**`` does not, and a leading '!' lets the path in again.
    """
    lines = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = glob_regex(pattern.removeprefix("!").strip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            result = not negated
    return result


def glob_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    for token in re.findall(r"\*\*/|\*\*|\*|\?|[^*?]+", pattern):
        out += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
            token, re.escape(token)
        )
    return re.compile(out)
