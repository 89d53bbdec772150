"""deploy/ checked where no container daemon runs: the compose file against the
Compose Specification's JSON schema (vendored in deploy/schemas/, Apache-2.0),
the Dockerfile's promises, the Kubernetes manifests' probes and requests, and
HAProxy's configurations by HAProxy itself. `make deploy-check` adds hadolint
and the Kubernetes API schemas (kubernetes-validate)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import yaml

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
    config.write_text(haproxy.render_for(layout, tmp_path / "haproxy.sock"), encoding="utf-8")
    done = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = config.read_text(encoding="utf-8")
    for port in layout.rasa_ports + layout.action_ports:
        assert f"127.0.0.1:{port} check" in text
    assert text.count("cookie rasa") == 3  # sticky socket.io: one cookie per replica


def test_the_haproxy_check_would_catch_a_mistake(tmp_path):
    assert shutil.which("haproxy"), "HAProxy is not installed: apt-get install haproxy"
    config = tmp_path / "haproxy.cfg"
    text = haproxy.render_for(haproxy.Layout.free(1, 1), tmp_path / "haproxy.sock")
    config.write_text(text.replace("balance leastconn", "balance fastest"), encoding="utf-8")
    assert subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True).returncode != 0


def test_the_template_has_nothing_left_to_fill(tmp_path):
    text = haproxy.render_for(haproxy.Layout.free(2, 2), Path("/tmp/x.sock"))
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
