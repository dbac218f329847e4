"""Runtime settings, read from the environment only when asked (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

SLACK_DEFAULT_API_URL = "https://slack.com/api/"


def normalise_api_url(url: str | None) -> str:
    """Return the Web API base URL with exactly one trailing slash."""
    url = (url or "").strip() or SLACK_DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


@dataclass(frozen=True)
class Settings:
    """Credentials and locations; see the README's environment table."""

    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str = SLACK_DEFAULT_API_URL
    database_url: str = "sqlite:///feedback.db"
    config_path: str = "feedbackbot.yml"
    port: int = 3000
    # Microsoft Teams (Azure Bot / Entra app registration).
    microsoft_app_id: str | None = None
    microsoft_app_password: str | None = None
    microsoft_app_tenant_id: str | None = None
    teams_anonymous: bool = False  # local testing only: no JWT check
    public_url: str | None = None  # https://bot.example.com, for links Teams must fetch
    # Slack OAuth mode (many workspaces install the app): on when both are set.
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    secret_key: str | None = None  # FEEDBACKBOT_SECRET_KEY: encrypts installations' tokens

    @property
    def slack_oauth(self) -> bool:
        """True when workspaces install the app through OAuth (no single SLACK_BOT_TOKEN)."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def teams_auth_mode(self) -> str:
        """How /api/messages checks callers: "jwt", "anonymous" or "refuse".

        Anonymous needs the app id unset *and* the explicit switch, so a deployment that
        forgot its app id refuses everyone instead of trusting everyone.
        """
        if self.microsoft_app_id:
            return "jwt"
        return "anonymous" if self.teams_anonymous else "refuse"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (os.environ by default).

        Raises ValueError when PORT is not a number.
        """
        env = os.environ if env is None else env
        port_text = env.get("PORT", "").strip() or "3000"
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"PORT must be a number, not {port_text!r}") from None
        return cls(
            bot_token=env.get("SLACK_BOT_TOKEN") or None,
            signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            app_token=env.get("SLACK_APP_TOKEN") or None,
            api_url=normalise_api_url(env.get("SLACK_API_URL")),
            database_url=env.get("DATABASE_URL") or "sqlite:///feedback.db",
            config_path=env.get("FEEDBACKBOT_CONFIG") or "feedbackbot.yml",
            port=port,
            microsoft_app_id=(env.get("MICROSOFT_APP_ID") or "").strip() or None,
            microsoft_app_password=env.get("MICROSOFT_APP_PASSWORD") or None,
            microsoft_app_tenant_id=env.get("MICROSOFT_APP_TENANT_ID") or None,
            teams_anonymous=env.get("FEEDBACKBOT_TEAMS_ANONYMOUS", "").strip() == "1",
            public_url=(env.get("FEEDBACKBOT_PUBLIC_URL") or "").strip().rstrip("/") or None,
            slack_client_id=(env.get("SLACK_CLIENT_ID") or "").strip() or None,
            slack_client_secret=env.get("SLACK_CLIENT_SECRET") or None,
            secret_key=env.get("FEEDBACKBOT_SECRET_KEY") or None,
        )

    def with_changes(self, **changes: object) -> Settings:
        """Return a copy with some settings replaced."""
        return replace(self, **changes)  # type: ignore[arg-type]
