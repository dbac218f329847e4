"""Fake Web API methods for modals, App Home and file uploads."""

from __future__ import annotations

import copy
import time
from typing import Any

from handlers.slack.standin.slack_args import (
    Args,
    Method,
    bot_message,
    int_arg,
    registrar,
    required,
    use_trigger,
)
from handlers.slack.standin.slack_state import SlackError, Workspace

METHODS: dict[str, Method] = {}
method = registrar(METHODS)


# ---- views ------------------------------------------------------------------------------


def _store_view(ws: Workspace, view: Any, *, view_id: str | None = None, **extra: Any) -> dict:
    if not isinstance(view, dict) or "type" not in view:
        raise SlackError("invalid_arguments")
    stored = {
        "id": view_id or ws.next_id("V"),
        "team_id": ws.team_id,
        "app_id": ws.app_id,
        "bot_id": ws.bot_id,
        "app_installed_team_id": ws.team_id,
        "private_metadata": "",
        "callback_id": "",
        "external_id": "",
        "blocks": [],
        "state": {"values": {}},
        "clear_on_close": False,
        "notify_on_close": False,
        "previous_view_id": None,
        "root_view_id": None,
        **copy.deepcopy(view),
        **extra,
        "hash": f"{int(time.time())}.{ws.next_id('h')}",
    }
    stored["root_view_id"] = stored["root_view_id"] or stored["id"]
    ws.views[stored["id"]] = stored
    return {"view": copy.deepcopy(stored)}


@method("views.open")
def views_open(ws: Workspace, args: Args) -> dict[str, Any]:
    """Open a modal; needs a fresh trigger_id."""
    use_trigger(ws, args)
    return _store_view(ws, args.get("view"))


@method("views.push")
def views_push(ws: Workspace, args: Args) -> dict[str, Any]:
    """Push a modal onto the open stack; needs a fresh trigger_id."""
    use_trigger(ws, args)
    return _store_view(ws, args.get("view"))


@method("views.update")
def views_update(ws: Workspace, args: Args) -> dict[str, Any]:
    """Replace an open view by view_id or external_id; a stale hash is refused."""
    current = ws.views.get(args.get("view_id") or "")
    if current is None and args.get("external_id"):
        current = next(
            (v for v in ws.views.values() if v["external_id"] == args["external_id"]), None
        )
    if current is None:
        raise SlackError("not_found")
    if args.get("hash") and args["hash"] != current["hash"]:
        raise SlackError("hash_conflict")
    return _store_view(ws, args.get("view"), view_id=current["id"])


@method("views.publish")
def views_publish(ws: Workspace, args: Args) -> dict[str, Any]:
    """Publish a user's App Home view."""
    user_id = ws.user(required(args, "user_id", "invalid_arguments"))["id"]
    home_id = next(
        (v["id"] for v in ws.views.values() if v.get("type") == "home" and v["user"] == user_id),
        None,
    )
    return _store_view(ws, args.get("view"), view_id=home_id, user=user_id)


# ---- files ------------------------------------------------------------------------------


@method("files.getUploadURLExternal")
def files_get_upload_url_external(ws: Workspace, args: Args) -> dict[str, Any]:
    """Reserve a file id and an upload URL on this server for the bytes."""
    filename = str(required(args, "filename"))
    length = int_arg(args, "length", 0)
    if length <= 0:
        raise SlackError("invalid_arguments")
    file_id = ws.next_id("F")
    ws.uploads[file_id] = {
        "id": file_id,
        "name": filename,
        "title": filename,
        "length": length,
        "alt_txt": args.get("alt_txt"),
        "content": None,
        "channels": [],
        "thread_ts": None,
        "initial_comment": None,
    }
    return {"upload_url": f"{ws.base_url}/upload/{file_id}", "file_id": file_id}


@method("files.completeUploadExternal")
def files_complete_upload_external(ws: Workspace, args: Args) -> dict[str, Any]:
    """Finish uploads whose bytes arrived, and share them into a channel when one is given."""
    entries = args.get("files")
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments")
    uploads = []
    for entry in entries:
        upload = ws.uploads.get(entry.get("id", "")) if isinstance(entry, dict) else None
        if upload is None or upload["content"] is None:
            raise SlackError("file_not_found")
        upload["title"] = entry.get("title") or upload["title"]
        uploads.append(upload)
    named = str(args.get("channels") or args.get("channel_id") or "")
    channels = [c for c in named.split(",") if c]
    resolved = [ws.writable_channel(c) for c in channels]
    files = [
        {
            "id": u["id"],
            "name": u["name"],
            "title": u["title"],
            "size": len(u["content"]),
            "mimetype": "application/octet-stream",
            "permalink": f"https://{ws.domain}.slack.com/files/{ws.bot_user_id}/{u['id']}",
        }
        for u in uploads
    ]
    for channel_id in resolved:
        message = bot_message(ws, {"text": args.get("initial_comment") or ""})
        message.update(ts=ws.next_ts(), files=copy.deepcopy(files), upload=True)
        if args.get("thread_ts"):
            message["thread_ts"] = str(args["thread_ts"])
        ws.insert_message(channel_id, message)
    for upload in uploads:
        upload["channels"] = resolved
        upload["thread_ts"] = args.get("thread_ts")
        upload["initial_comment"] = args.get("initial_comment")
    return {"files": files}
