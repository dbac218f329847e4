"""The fake Slack's OAuth side: oauth.v2.access exchanges codes for bot tokens of many
workspaces, and auth.test answers for each token it handed out."""

from __future__ import annotations

import base64
import binascii
import itertools
from dataclasses import dataclass
from typing import Any

_numbers = itertools.count(1)


@dataclass
class Grant:
    """One installation Slack would make when a code is exchanged."""

    team_id: str | None
    team_name: str | None
    enterprise_id: str | None
    enterprise_name: str | None
    org_wide: bool
    bot_token: str
    bot_user_id: str
    bot_id: str
    installer: str
    user_token: str
    app_id: str
    scope: str
    used: bool = False
    revoked: bool = False


class OAuthSide:
    """Codes the fake will exchange, the tokens they give, and the app's credentials."""

    def __init__(self) -> None:
        self.client_id = "1234.5678"
        self.client_secret = "fake-client-secret"
        self.codes: dict[str, Grant] = {}
        self.tokens: dict[str, Grant] = {}

    def grant(self, *, team_id: str | None, team_name: str | None = None,
              enterprise_id: str | None = None, enterprise_name: str | None = None,
              org_wide: bool = False, bot_user_id: str | None = None,
              installer: str = "U0INSTALLER", app_id: str = "A0DEMO",
              scope: str = "commands,chat:write") -> tuple[str, Grant]:
        """Make a code that installs the app in a workspace (or org-wide); return it."""
        number = next(_numbers)
        where = team_id or enterprise_id or "X"
        grant = Grant(
            team_id=None if org_wide else team_id, team_name=None if org_wide else team_name,
            enterprise_id=enterprise_id, enterprise_name=enterprise_name, org_wide=org_wide,
            bot_token=f"xoxb-{where}-{number}-fake", bot_user_id=bot_user_id or f"U0BOT{where}",
            bot_id=f"B0BOT{where}", installer=installer, user_token=f"xoxp-{where}-{number}-fake",
            app_id=app_id, scope=scope)
        code = f"code-{where}-{number}"
        self.codes[code] = grant
        return code, grant

    def exchange(self, args: dict[str, Any], authorization: str) -> dict[str, Any]:
        """oauth.v2.access: the client's credentials (basic auth or args) and a fresh code."""
        client_id, client_secret = args.get("client_id"), args.get("client_secret")
        if authorization.startswith("Basic "):
            try:
                decoded = base64.b64decode(authorization[6:]).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return {"ok": False, "error": "invalid_client_id"}
            client_id, _, client_secret = decoded.partition(":")
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        grant = self.codes.get(str(args.get("code") or ""))
        if grant is None or grant.used:
            return {"ok": False, "error": "invalid_code"}
        grant.used = True
        self.tokens[grant.bot_token] = grant
        return {
            "ok": True,
            "access_token": grant.bot_token,
            "token_type": "bot",
            "scope": grant.scope,
            "bot_user_id": grant.bot_user_id,
            "app_id": grant.app_id,
            "team": ({"id": grant.team_id, "name": grant.team_name}
                     if grant.team_id else None),
            "enterprise": ({"id": grant.enterprise_id, "name": grant.enterprise_name}
                           if grant.enterprise_id else None),
            "authed_user": {"id": grant.installer, "scope": "", "token_type": "user",
                            "access_token": grant.user_token},
            "is_enterprise_install": grant.org_wide,
        }

    def auth_test(self, token: str | None) -> dict[str, Any] | None:
        """auth.test for a token this side handed out; None for any other token."""
        grant = self.tokens.get(token or "")
        if grant is None:
            return None
        if grant.revoked:
            return {"ok": False, "error": "token_revoked"}
        answer: dict[str, Any] = {
            "ok": True, "url": f"https://{(grant.team_id or grant.enterprise_id or '').lower()}"
                               ".slack.com/",
            "team": grant.team_name or grant.enterprise_name, "user": "feedbackbot",
            "team_id": grant.team_id or grant.enterprise_id, "user_id": grant.bot_user_id,
            "bot_id": grant.bot_id, "is_enterprise_install": grant.org_wide}
        if grant.enterprise_id:
            answer["enterprise_id"] = grant.enterprise_id
        return answer

    def refused(self, token: str | None) -> bool:
        """True for a token handed out here and revoked since (an uninstall)."""
        grant = self.tokens.get(token or "")
        return grant is not None and grant.revoked
