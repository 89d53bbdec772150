"""What protecting Rasa's HTTP API costs per request: `--auth-token` against `--jwt-secret`.

    .venv/bin/python -m bench.auth_cost [--requests 300]

Starts one Rasa server (the trained model, no action server needed) with both
options at once (Rasa's `requires_auth` tries the token, then the JWT) and times,
over one kept-alive connection, GET /status and POST /model/parse: open
(`/version`, the same work minus the check, for GET), with `?token=`, with a
Bearer JWT minted once, and with a JWT minted for each request (what `bot ask`
does). Prints the median and p90 in milliseconds. Throw-away secrets.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets as random_secrets
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot import secrets, settings
from bot.runtime import build, processes
from bot.settings import PROJECT_DIR


def _time(conn: http.client.HTTPConnection, n: int, request: Callable[[], tuple]) -> list[float]:
    times = []
    for _ in range(n):
        method, path, body, headers = request()
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, (path, response.status)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    n = parser.parse_args().requests

    cfg = settings.load()
    model = build.model_path(cfg)
    if not model.exists():
        raise SystemExit(f"no model {model}: run `bot prepare` first")
    port = processes.free_port()
    token, jwt_secret = random_secrets.token_urlsafe(32), random_secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory() as tmp:
        env = processes.rasa_env(cfg) | {"LOG_LEVEL": "WARNING"}
        (Path(tmp) / "endpoints.yml").write_text("")
        log = (Path(tmp) / "rasa.log").open("wb")
        proc = subprocess.Popen(
            [
                *processes.RASA,
                "run",
                "--model",
                str(model),
                "--enable-api",
                "--endpoints",
                str(Path(tmp) / "endpoints.yml"),
                "--port",
                str(port),
                "--auth-token",
                token,
                "--jwt-secret",
                jwt_secret,
                "--jwt-method",
                "HS256",
            ],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            minted = {"Authorization": f"Bearer {secrets.bearer(jwt_secret)}"}
            deadline = time.monotonic() + 300
            while not processes.answers(f"http://127.0.0.1:{port}/status", minted):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = (Path(tmp) / "rasa.log").read_text(errors="replace")[-2000:]
                    raise SystemExit(f"the Rasa server did not start:\n{tail}")
                time.sleep(0.5)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            parse = json.dumps({"text": "Can you disinfect my PC?"})
            jtype = {"Content-Type": "application/json"}

            def fresh() -> dict[str, str]:
                return {"Authorization": f"Bearer {secrets.bearer(jwt_secret)}"}

            cases: dict[str, Callable[[], tuple]] = {
                "GET /version (open)": lambda: ("GET", "/version", None, {}),
                "GET /status ?token=": lambda: ("GET", f"/status?token={token}", None, {}),
                "GET /status JWT": lambda: ("GET", "/status", None, minted),
                "GET /status JWT minted each": lambda: ("GET", "/status", None, fresh()),
                "POST /model/parse ?token=": lambda: (
                    "POST",
                    f"/model/parse?token={token}",
                    parse,
                    jtype,
                ),
                "POST /model/parse JWT": lambda: ("POST", "/model/parse", parse, minted | jtype),
            }
            for name, request in cases.items():
                _time(conn, 20, request)  # warm up
                times = sorted(_time(conn, n, request))
                p90 = times[int(len(times) * 0.9)]
                print(f"{name:30} median {statistics.median(times):6.2f} ms  p90 {p90:6.2f} ms")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
                proc.wait(timeout=30)
            log.close()


if __name__ == "__main__":
    main()
