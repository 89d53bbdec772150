"""What the socket.io channel sends: Rasa's bot messages as the `bot_uttered`
events standard widgets (rasa-webchat) render, a turn's messages emitted after
the turn. Used by bot/rasa_addons/channels/socketio.py.

- One `bot_uttered` per bot message: {"text", "quick_replies"?, "metadata"?}, the
  custom JSON (the contract's {"answer": ...}) under `metadata`. rasa-webchat
  strips `metadata` before it picks a renderer and drops a message with any other
  extra key; Rasa spread the custom JSON into `emit(**payload)` (a TypeError that
  lost the turn). Only `quick_replies`, never `buttons` too: webchat renders
  buttons only for exactly two keys, text and one of them.
- A turn's messages are emitted after the turn (the tracker is saved by then),
  so a custom-only message can join the text message before or after it.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.socketio import SocketIOOutput
from socketio import AsyncServer

from bot.contract import LANGS


def widget_messages(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Rasa's bot message as the bot_uttered events a standard widget renders."""
    shaped: dict[str, Any] = {}
    if message.get("text"):
        # Widgets render text as Markdown, which joins single lines (our bullet
        # lists); a trailing double space keeps the line break, and is invisible.
        shaped["text"] = message["text"].replace("\n", "  \n")
    buttons = message.get("buttons") or message.get("quick_replies")
    if buttons:
        shaped.setdefault("text", "")
        shaped["quick_replies"] = [
            {"content_type": "text", "title": b.get("title"), "payload": b.get("payload")}
            for b in buttons
        ]
    custom = message.get("custom")
    if custom:
        shaped["metadata"] = custom if isinstance(custom, dict) else {"custom": custom}
    out = [shaped] if shaped else []
    if message.get("image"):
        out.append({"attachment": {"type": "image", "payload": {"src": message["image"]}}})
    if message.get("attachment"):
        out.append({"attachment": message["attachment"]})
    for element in message.get("elements") or []:
        payload = {"template_type": "generic", "elements": element}
        out.append({"attachment": {"type": "template", "payload": payload}})
    return out


def merge_turn(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A custom-only message joins the text message before it (or else after it)
    of the same turn; webchat would show `String(undefined)` for it alone."""
    merged: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []  # metadata with no free text message before it
    for message in messages:
        if set(message) == {"metadata"}:
            last = merged[-1] if merged else {}
            if "text" in last and "metadata" not in last:
                last["metadata"] = message["metadata"]
            else:
                waiting.append(message["metadata"])
            continue
        if waiting and "text" in message and "metadata" not in message:
            message["metadata"] = waiting.pop(0)
        merged.append(message)
    return merged + [{"text": "", "metadata": metadata} for metadata in waiting]


class WebchatOutput(SocketIOOutput):
    """Collects a turn's messages; `flush` emits them. Outside a turn (messages the
    HTTP API triggers), `buffered=False` emits each message at once."""

    def __init__(self, sio: AsyncServer, event: str, namespace: str | None, buffered: bool):
        super().__init__(sio, event)
        self.namespace = namespace
        self.pending: list[tuple[str, dict[str, Any]]] | None = [] if buffered else None
        self.lang: str | None = None  # the language of the last answer sent

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        shaped = widget_messages(message)
        if self.pending is None:
            await self._emit(recipient_id, merge_turn(shaped))
        else:
            self.pending += [(recipient_id, m) for m in shaped]

    async def flush(self) -> None:
        pending, self.pending = self.pending or [], []
        for recipient in dict.fromkeys(r for r, _ in pending):
            await self._emit(recipient, merge_turn([m for r, m in pending if r == recipient]))

    async def _emit(self, room: str, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            answer = message.get("metadata", {}).get("answer")
            if isinstance(answer, dict) and answer.get("lang") in LANGS:
                self.lang = answer["lang"]
            await self.sio.emit(self.bot_message_evt, message, room=room, namespace=self.namespace)
