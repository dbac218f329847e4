"""Build the Teams app package: manifest (schema 1.29), colour and outline icons, in a zip."""

from __future__ import annotations

import json
import re
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MANIFEST_VERSION = "1.29"
SCHEMA_URL = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/v1.29/MicrosoftTeams.schema.json"
)
FORWARD_COMMAND_ID = "forwardFeedback"
# Lets the bot read replies in a card's thread without being @mentioned.
RSC_PERMISSIONS = ("ChannelMessage.Read.Group",)
APP_VERSION = "0.1.0"
ACCENT_COLOR = "#464775"
ICON_FILES = {"color": "color.png", "outline": "outline.png"}
DEFAULT_WEBSITE = "https://github.com/feedbackbot/feedbackbot"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class PackageError(ValueError):
    """The app id or URL cannot make a valid package."""


def _domain(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise PackageError(f"--url must be an https URL like https://feedback.example.com,"
                           f" not {url!r}")
    return parts.hostname if parts.port in (None, 443) else f"{parts.hostname}:{parts.port}"


def build_manifest(app_id: str, url: str | None = None) -> dict[str, Any]:
    """The manifest for the bot whose Entra app (client) id is `app_id`; raises PackageError."""
    if not _GUID.match(app_id):
        raise PackageError(f"--app-id must be the Entra app (client) id, a GUID like"
                           f" 00000000-0000-0000-0000-000000000000, not {app_id!r}")
    website = url.rstrip("/") if url else DEFAULT_WEBSITE
    manifest: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": APP_VERSION,
        "id": app_id,
        "developer": {
            "name": "feedbackbot",
            "websiteUrl": website,
            "privacyUrl": website,
            "termsOfUseUrl": website,
        },
        "name": {"short": "feedbackbot", "full": "feedbackbot: customer feedback to developers"},
        "description": {
            "short": "Send customer feedback straight to the developers who own it.",
            "full": (
                "Support staff forward a customer's words from any message; the bot posts"
                " them as a card in the owning developers' channel, records the first"
                " response, relays answers back to support and reports time to response."
            ),
        },
        "icons": {"color": ICON_FILES["color"], "outline": ICON_FILES["outline"]},
        "accentColor": ACCENT_COLOR,
        "bots": [
            {
                "botId": app_id,
                "scopes": ["team", "personal", "groupChat"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {
                        "scopes": ["personal"],
                        "commands": [
                            {"title": "stats", "description": "Time to response by team"},
                            {"title": "mine", "description": "Items waiting on you"},
                            {"title": "help", "description": "How to forward feedback"},
                        ],
                    }
                ],
            }
        ],
        "composeExtensions": [
            {
                "botId": app_id,
                "commands": [
                    {
                        "id": FORWARD_COMMAND_ID,
                        "type": "action",
                        "title": "Send to developers",
                        "description": "Forward this customer feedback to the owning team",
                        "context": ["message"],
                        "fetchTask": True,
                    }
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [_domain(url)] if url else [],
        "webApplicationInfo": {"id": app_id, "resource": "https://RscPermission"},
        "authorization": {
            "permissions": {
                "resourceSpecific": [
                    {"name": name, "type": "Application"} for name in RSC_PERMISSIONS
                ]
            }
        },
    }
    return manifest


def _icon_bytes(name: str) -> bytes:
    return resources.files("handlers.msteams").joinpath("icons", name).read_bytes()


def write_package(path: Path, app_id: str, url: str | None = None) -> dict[str, Any]:
    """Write the app zip to `path` and return its manifest; raises PackageError."""
    manifest = build_manifest(app_id, url)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # Teams wants the three files at the zip's root, not in a folder.
        archive.writestr("manifest.json", json.dumps(manifest, indent=2) + "\n")
        for file_name in ICON_FILES.values():
            archive.writestr(file_name, _icon_bytes(file_name))
    return manifest
