"""Encrypt the tokens of Slack installations at rest with FEEDBACKBOT_SECRET_KEY (Fernet)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_VARIABLE = "FEEDBACKBOT_SECRET_KEY"


class SecretKeyProblem(ValueError):
    """FEEDBACKBOT_SECRET_KEY is missing, malformed, or does not open the stored tokens."""


def new_key() -> str:
    """A fresh key for FEEDBACKBOT_SECRET_KEY."""
    return Fernet.generate_key().decode("ascii")


class TokenCipher:
    """Fernet over one or more keys (comma-separated, newest first).

    New secrets are encrypted with the first key; any listed key opens old ones, so a
    new key can be put in front while `rotate-key` re-encrypts what is stored.
    """

    def __init__(self, keys: str | None) -> None:
        parts = [part.strip() for part in (keys or "").split(",") if part.strip()]
        if not parts:
            raise SecretKeyProblem(
                f"{KEY_VARIABLE} is not set: OAuth mode stores every workspace's tokens"
                " encrypted with it. Make one with `feedbackbot new-secret-key` and set it"
                " (see docs/oauth.md)")
        fernets: list[Fernet] = []
        for number, part in enumerate(parts, start=1):
            try:
                fernets.append(Fernet(part.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise SecretKeyProblem(
                    f"{KEY_VARIABLE}: key {number} of {len(parts)} is not a Fernet key (32"
                    " url-safe base64-encoded bytes); make one with"
                    " `feedbackbot new-secret-key`") from None
        self._fernet = MultiFernet(fernets)

    def seal(self, secrets: dict[str, Any]) -> str:
        """Encrypt a dict of secrets (JSON) with the newest key."""
        return self._fernet.encrypt(json.dumps(secrets).encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> dict[str, Any]:
        """Decrypt what `seal` made; raise SecretKeyProblem when no key opens it."""
        try:
            opened = self._fernet.decrypt(sealed.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise SecretKeyProblem(
                f"a stored installation can't be decrypted with {KEY_VARIABLE}: keep the"
                " key it was stored with in the list until `feedbackbot rotate-key` has"
                " run") from None
        value = json.loads(opened)
        return value if isinstance(value, dict) else {}

    def rotate(self, sealed: str) -> str:
        """Re-encrypt with the newest key (what any listed key opens)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretKeyProblem(
                f"a stored installation can't be decrypted with any key in {KEY_VARIABLE}:"
                " add the key it was stored with (after the new one) and run again") from None
