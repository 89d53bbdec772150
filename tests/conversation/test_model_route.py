"""The model server route on the real action server, and Rasa pulling from it.

Rasa's `models:` endpoint (endpoints.yml) asks `GET /model` with If-None-Match;
the route answers the live model with its ETag, 304 while it is unchanged, and
only with the actions token.
"""

from __future__ import annotations

import hashlib

from tests.conversation.test_access import bearer, call


def _url(running_bot) -> str:
    return f"http://127.0.0.1:{running_bot.cfg.actions_port}/model"


def test_the_route_wants_the_token(running_bot):
    assert call(_url(running_bot)).status == 401
    assert call(_url(running_bot), headers=bearer("wrong")).status == 401


def test_the_live_model_with_etag_then_304(running_bot):
    auth = bearer(running_bot.cfg.actions_token)
    got = call(_url(running_bot), headers=auth)
    assert got.status == 200
    assert got.body == running_bot.servers.model.read_bytes()
    assert got.headers["filename"] == running_bot.servers.model.name
    tag = got.headers["etag"]
    assert tag.strip('"') == hashlib.sha256(got.body).hexdigest()[:32]
    again = call(_url(running_bot), headers={**auth, "If-None-Match": tag})
    assert (again.status, again.body) == (304, b"")
    assert again.headers["etag"] == tag
    changed = call(_url(running_bot), headers={**auth, "If-None-Match": '"another"'})
    assert changed.status == 200


def test_rasa_serves_the_model_it_pulled(running_bot):
    status = running_bot.get("/status")
    assert status["model_file"] == running_bot.servers.model.name
