"""deploy/ checked where no container daemon runs: the compose file against the
Compose Specification's JSON schema (vendored in deploy/schemas/, Apache-2.0),
the Dockerfile's promises, the Kubernetes manifests' probes and requests, and
HAProxy's configurations by HAProxy itself. `make deploy-check` adds hadolint
and the Kubernetes API schemas (kubernetes-validate)."""

from __future__ import annotations

import json
import re
import secrets as random_secrets
import shutil
import subprocess
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from urllib.parse import quote

import jsonschema
import redis
import yaml
from sqlalchemy.engine import make_url

from bot import secrets, settings
from bot.runtime import processes
from bot.runtime.cluster import haproxy
from bot.settings import PROJECT_DIR

DEPLOY = PROJECT_DIR / "deploy"


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text(encoding="utf-8"))


def _compose_errors(doc: dict) -> list[str]:
    schema = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text(encoding="utf-8"))
    return [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]


def test_the_compose_file_follows_the_compose_specification():
    assert _compose_errors(_compose()) == []


def test_the_schema_check_would_catch_a_mistake():
    broken = _compose()
    broken["services"]["rasa0"]["ports"] = {"8080": 8080}  # a list, not a mapping
    broken["services"]["redis"]["restart_policy"] = "always"  # no such key
    assert len(_compose_errors(broken)) >= 2


def test_the_compose_file_has_the_cluster_shape():
    services = _compose()["services"]
    assert {
        "postgres",
        "redis",
        "init",
        "haproxy",
        "rasa0",
        "rasa1",
        "actions0",
        "actions1",
    } <= set(services)
    for name in ("rasa0", "rasa1", "actions0", "actions1"):
        service = services[name]
        assert service["healthcheck"]["test"], name
        assert service["deploy"]["resources"]["reservations"]["memory"], name
        assert service["depends_on"]["init"]["condition"] == "service_completed_successfully"
    # Rasa's action endpoint is the balancer, whose configuration names these services
    assert services["rasa0"]["environment"]["BOT_ACTIONS_URL"] == "http://haproxy:5055/webhook"
    rendered = (DEPLOY / "compose" / "haproxy.cfg").read_text(encoding="utf-8")
    for name in ("rasa0:5005", "rasa1:5005", "actions0:5055", "actions1:5055"):
        assert f" {name} check" in rendered


def test_the_compose_haproxy_config_is_the_templates_rendering():
    committed = (DEPLOY / "compose" / "haproxy.cfg").read_text(encoding="utf-8")
    assert committed == haproxy.render_for_compose(), "run `make deploy-render`"


# A value compose fills in from secrets.env (`--env-file`): ${NAME}, ${NAME:?why}
REFERENCE = re.compile(r"\$\{(\w+)(?:[:?-][^}]*)?\}")


def _strings(node: object) -> Iterator[tuple[str, str]]:
    """(key or "", string) for every string in a YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                yield str(key), value
            else:
                yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str):
                yield "", item
            else:
                yield from _strings(item)


def _literal_passwords(doc: dict) -> list[str]:
    """Every password written into the compose file rather than referred to."""
    found = []
    for key, value in _strings(doc):
        for userinfo in re.findall(r"[a-z+]+://([^/@\s]*)@", value):
            password = userinfo.partition(":")[2]
            if password and not REFERENCE.fullmatch(password):
                found.append(value)
        if re.search(r"PASSWORD|AUTH", key) and not REFERENCE.fullmatch(value):
            found.append(f"{key}: {value}")
    for service in doc["services"].values():
        command = service.get("command") or []
        for flag, value in pairwise(command):
            if flag == "--requirepass" and not REFERENCE.fullmatch(value):
                found.append(f"--requirepass {value}")
    return found


def _example_secrets() -> dict[str, str]:
    text = (DEPLOY / "compose" / "secrets.env.example").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def _interpolate(value: str, env: dict[str, str]) -> str:
    """What compose makes of a value (`$$` is a dollar sign)."""
    return re.sub(
        r"\$\$|" + REFERENCE.pattern,
        lambda m: "$" if m.group(0) == "$$" else env[m.group(1)],
        value,
    )


def test_compose_writes_no_password_and_takes_them_from_the_secrets_file():
    doc = _compose()
    assert _literal_passwords(doc) == []
    referred = {name for _, value in _strings(doc) for name in REFERENCE.findall(value)}
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD"} <= referred
    assert referred <= set(_example_secrets())  # every one listed in the template
    text = (DEPLOY / "compose" / "compose.yaml").read_text(encoding="utf-8")
    assert "--env-file deploy/compose/secrets.env" in text  # how compose gets them
    for name in ("init", "rasa0", "rasa1", "actions0", "actions1"):
        assert doc["services"][name]["env_file"] == "secrets.env", name


def test_the_password_check_would_catch_a_literal_one():
    doc = _compose()
    doc["services"]["init"]["environment"]["BOT_DATABASE_URL"] = "postgresql://bot:bot@postgres/bot"
    doc["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] = "bot"
    doc["services"]["redis"]["command"][2] = "hunter2"
    assert len(_literal_passwords(doc)) == 3


def _compose_environment(secrets_env: dict[str, str]) -> dict[str, str]:
    """The environment of compose's `init` container (the replicas share its
    variables), with secrets.env as compose would fill it in."""
    environment = _compose()["services"]["init"]["environment"]
    return {**secrets_env, **{k: _interpolate(str(v), secrets_env) for k, v in environment.items()}}


def _isolated(var_dir: Path) -> dict[str, str | None]:
    # compose sets no limits URL (the lock store's is used): nor may the test's shell
    return {"BOT_VAR_DIR": str(var_dir), "BOT_LIMITS_REDIS_URL": None}


def test_the_example_secrets_are_refused_where_the_app_reads_them(tmp_path):
    example = _example_secrets()
    environment = {**_compose_environment(example), **_isolated(tmp_path)}
    with settings.environment(environment):
        problems = " ".join(secrets.weak(settings.load()))
    for name in settings.SECRETS.values():
        assert f"{name} is a placeholder" in problems
    for name in ("BOT_DATABASE_URL", "BOT_LOCK_STORE_URL"):  # the two passwords
        assert f"{name} has a placeholder password" in problems
    assert "CHANGE-ME" not in problems  # names, never values


def test_the_secrets_file_passwords_reach_every_client(tmp_path):
    """Filled in, the same passwords reach PostgreSQL and Redis and the clients
    of both: the project database and tracker store, the lock store, the limits."""
    filled = {name: random_secrets.token_urlsafe(32) for name in _example_secrets()}
    services = _compose()["services"]
    server_side = _interpolate(services["postgres"]["environment"]["POSTGRES_PASSWORD"], filled)
    command = [_interpolate(part, filled) for part in services["redis"]["command"]]
    redis_side = command[command.index("--requirepass") + 1]
    assert (server_side, redis_side) == (filled["POSTGRES_PASSWORD"], filled["REDIS_PASSWORD"])
    environment = {**_compose_environment(filled), **_isolated(tmp_path)}
    with settings.environment(environment):
        cfg = settings.load()
        assert secrets.weak(cfg) == []
        env = processes.rasa_env(cfg)
    for url in (cfg.database_url, cfg.tracker_url):
        assert make_url(url).password == server_side
    assert env["BOT_LOCK_STORE_PASSWORD"] == redis_side  # AtomicRedisLockStore's
    assert (
        redis.Redis.from_url(env["BOT_LIMITS_REDIS_URL"]).connection_pool.connection_kwargs[
            "password"
        ]
        == redis_side
    )  # bot/address_limits.py's client


def test_a_percent_encoded_password_reaches_every_client_decoded(tmp_path):
    """Where URLs are written whole (the Kubernetes Secret), a password with
    URL-special characters works percent-encoded; compose's may not have them."""
    password = "p@ss:w/rd?#%&+ " + random_secrets.token_urlsafe(8)
    quoted = quote(password, safe="")
    environment = {
        **_isolated(tmp_path),
        "BOT_DATABASE_URL": f"postgresql://bot:{quoted}@db:5432/bot",
        "BOT_TRACKER_URL": f"postgresql://bot:{quoted}@db:5432/tracker",
        "BOT_LOCK_STORE_URL": f"redis://:{quoted}@redis:6379/0",
    }
    with settings.environment(environment):
        cfg = settings.load()
        env = processes.rasa_env(cfg)
    assert make_url(cfg.database_url).password == password
    assert make_url(env["BOT_TRACKER_URL"]).password == password
    assert env["BOT_LOCK_STORE_PASSWORD"] == password
    client = redis.Redis.from_url(env["BOT_LIMITS_REDIS_URL"])
    assert client.connection_pool.connection_kwargs["password"] == password


def test_the_dockerfile_is_multi_stage_pinned_and_not_root():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM \S+ AS (\w+)", text, flags=re.MULTILINE)
    assert stages == ["build", "runtime"]
    assert "pip install --no-deps -r /tmp/requirements.lock" in text
    assert "pip check" in text
    users = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert users and not users[-1].startswith(("root", "0"))
    runtime = text.split("AS runtime", 1)[1]
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    assert "requirements.lock" not in runtime  # nothing installed in the final stage
    assert 'ENTRYPOINT ["python", "-m", "bot.cli", "serve"]' in text
    ignored = (PROJECT_DIR / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", "var", ".git"} <= set(ignored)  # no local state in the image


def _manifests() -> list[dict]:
    docs: list[dict] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def test_every_server_in_kubernetes_has_a_readiness_probe_and_requests():
    deployments = [d for d in _manifests() if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"bot-rasa", "bot-actions"}
    for deployment in deployments:
        spec = deployment["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in spec["containers"]:
            assert container["readinessProbe"]["httpGet"]["path"]
            requests = container["resources"]["requests"]
            assert requests["cpu"] and requests["memory"]
            assert container["resources"]["limits"]["memory"]
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
    config = next(d for d in _manifests() if d["kind"] == "ConfigMap")
    assert config["data"]["BOT_ACTIONS_URL"] == "http://bot-actions:5055/webhook"


def test_haproxy_accepts_the_local_configuration(tmp_path):
    assert shutil.which("haproxy"), "HAProxy is not installed: apt-get install haproxy"
    layout = haproxy.Layout.free(3, 2)
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy.render_for(layout, tmp_path / "haproxy.sock", 300), encoding="utf-8")
    done = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = config.read_text(encoding="utf-8")
    for port in layout.rasa_ports + layout.action_ports:
        assert f"127.0.0.1:{port} check" in text
    assert text.count("cookie rasa") == 3  # sticky socket.io: one cookie per replica


def test_the_haproxy_check_would_catch_a_mistake(tmp_path):
    assert shutil.which("haproxy"), "HAProxy is not installed: apt-get install haproxy"
    config = tmp_path / "haproxy.cfg"
    text = haproxy.render_for(haproxy.Layout.free(1, 1), tmp_path / "haproxy.sock", 300)
    config.write_text(text.replace("balance leastconn", "balance fastest"), encoding="utf-8")
    assert subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True).returncode != 0


def test_the_template_has_nothing_left_to_fill(tmp_path):
    text = haproxy.render_for(haproxy.Layout.free(2, 2), Path("/tmp/x.sock"), 300)
    assert "$" not in text


def test_containers_pull_the_model_through_the_action_endpoint(monkeypatch):
    """Rasa's `models:` URL is the action tier's `GET /model`, reached the way the
    action endpoint is (the balancer in compose, the Service in Kubernetes), never
    the container's own loopback."""
    from bot import settings
    from bot.runtime import processes

    for url in ("http://haproxy:5055/webhook", "http://bot-actions:5055/webhook/"):
        monkeypatch.setenv("BOT_ACTIONS_URL", url)
        env = processes.rasa_env(settings.load())
        assert env["BOT_MODEL_SERVER_URL"] == url.rstrip("/").removesuffix("/webhook") + "/model"
    monkeypatch.delenv("BOT_ACTIONS_URL")
    cfg = settings.load()
    assert processes.rasa_env(cfg)["BOT_MODEL_SERVER_URL"] == (
        f"http://127.0.0.1:{cfg.actions_port}/model"
    )
