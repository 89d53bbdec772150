"""The four secrets: generated once into var/secrets/, and the API's bearer tokens.

`ensure` is what `make run` does for a secret the environment does not set: a
random token in var/secrets/<env name lowercased>, readable by its owner only
(bot/settings.py reads it from there). `bearer` signs a short-lived JWT with
BOT_API_TOKEN for Rasa's HTTP API (`--jwt-secret`): the secret itself never
travels, and a token copied out of a log stops working within minutes.

Standard library only: `bot ask` and the tests use it without importing Rasa.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import secrets as _random
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.settings import SECRETS, Settings, secret, secret_file

TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 256 bits, 43 characters
BEARER_LIFETIME = 300  # seconds; a client mints a new one per request or command


def ensure(var_dir: Path, environ: dict[str, str] | None = None) -> list[tuple[str, Path]]:
    """Create the file of every secret the environment does not set and no file holds.

    Returns (environment variable, file) for each secret created now; an existing
    file or a set variable is never touched.
    """
    environ = dict(os.environ) if environ is None else environ
    created = []
    for env_name in SECRETS.values():
        if environ.get(env_name, "").strip():
            continue
        path = secret_file(var_dir, env_name)
        try:
            if path.read_text(encoding="utf-8").strip():
                continue
        except FileNotFoundError:
            pass
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(path, _random.token_urlsafe(TOKEN_BYTES) + "\n")
        created.append((env_name, path))
    return created


MIN_LENGTH = 32  # a generated token is 43 characters
MIN_DISTINCT = 12  # "aaaa…" is long, not random; 43 random url-safe characters have ~30
# what example files and tutorials put where a secret goes: refused at start
PLACEHOLDERS = ("change-me", "changeme", "secret", "password", "token", "example")


def _placeholder(value: str) -> bool:
    folded = value.strip().lower()
    # starts as a placeholder, or says "change me" anywhere ("my-CHANGE-ME-secret");
    # words of five letters or more, at the start only: a random token starts
    # with "xxx" in any case 1 time in 30,000 (a test's did); "xxxx…" fails MIN_DISTINCT
    unjoined = folded.replace("-", "").replace("_", "")
    return any(folded.startswith(p) for p in PLACEHOLDERS) or "changeme" in unjoined


# The URLs whose password a deployment sets (compose's secrets.env, the Secret)
PASSWORD_URLS = {
    "database_url": "BOT_DATABASE_URL",
    "tracker_url": "BOT_TRACKER_URL",
    "lock_store_url": "BOT_LOCK_STORE_URL",
    "limits_redis_url": "BOT_LIMITS_REDIS_URL",
}


def weak(cfg: Settings) -> list[str]:
    """One line per secret that is set but could be guessed: shorter than MIN_LENGTH
    or a placeholder (deploy/k8s/secret.example.yaml's CHANGE-ME), and per database
    or Redis URL whose password is a placeholder. Names, never values."""
    problems = []
    for field_name, env_name in SECRETS.items():
        value = getattr(cfg, field_name)
        if not value:
            continue
        if _placeholder(value):
            problems.append(f"{env_name} is a placeholder: set a random value")
        elif len(value.strip()) < MIN_LENGTH:
            problems.append(f"{env_name} is shorter than {MIN_LENGTH} characters")
        elif len(set(value.strip())) < MIN_DISTINCT:
            problems.append(f"{env_name} repeats a few characters: set a random value")
    # Placeholders only: how long a site's own database password is stays its call
    named = set()
    for field_name, env_name in PASSWORD_URLS.items():
        url = getattr(cfg, field_name)
        if url in named:  # BOT_TRACKER_URL defaults to the database's, the limits to the locks'
            continue
        named.add(url)
        try:
            password = unquote(urlsplit(url).password or "")
        except ValueError:  # unparseable: connecting says so, naming the variable
            continue
        if password and _placeholder(password):
            problems.append(f"{env_name} has a placeholder password: set a random one")
    return problems


def complete(cfg: Settings) -> tuple[Settings, list[tuple[str, Path]]]:
    """`cfg` with every secret set: `ensure`, then the files for what was missing."""
    created = ensure(cfg.var_dir)

    def value(current: str | None, env_name: str) -> str | None:
        if current:
            return current
        try:
            return secret_file(cfg.var_dir, env_name).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    filled = dataclasses.replace(
        cfg,
        api_token=value(cfg.api_token, SECRETS["api_token"]),
        actions_token=value(cfg.actions_token, SECRETS["actions_token"]),
        trainer_token=value(cfg.trainer_token, SECRETS["trainer_token"]),
        agent_token=value(cfg.agent_token, SECRETS["agent_token"]),
    )
    return filled, created


def _write_private(path: Path, text: str) -> None:
    # Created 0600 from the start (no window in which another user could read it);
    # an empty file left by an earlier failure is replaced.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def bearer(secret: str, username: str = "bot", lifetime: int = BEARER_LIFETIME) -> str:
    """An HS256 JWT that Rasa's `requires_auth` accepts for every API route.

    Rasa reads `user.role`: "admin" may use every conversation and model route.
    """
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {"user": {"username": username, "role": "admin"}, "iat": now, "exp": now + lifetime}
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
    )
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def api_headers(cfg: Settings) -> dict[str, str]:
    """The Authorization header for Rasa's HTTP API; empty if no token is set."""
    if not cfg.api_token:
        return {}
    return {"Authorization": f"Bearer {bearer(cfg.api_token)}"}


def trainer_token(cfg: Settings) -> str | None:
    """BOT_TRAINER_TOKEN as it is now (environment, else var/secrets/): read at each
    request, so a token written or removed takes effect without a restart."""
    return secret(SECRETS["trainer_token"], cfg.var_dir)


def agent_token(cfg: Settings) -> str | None:
    """BOT_AGENT_TOKEN as it is now, read as trainer_token is: it opens only
    /webhooks/agent/parse, so an agent's shell never holds BOT_API_TOKEN."""
    return secret(SECRETS["agent_token"], cfg.var_dir)


def same_token(given: str, expected: str) -> bool:
    """Compare a presented token with the real one in constant time."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
