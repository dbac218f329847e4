"""Names of outbox entry kinds, shared by the core and the worker."""

from __future__ import annotations

CARD = "card"  # post the routed card for an item
CARD_UPDATE = "card_update"  # re-render an item's card in place
NOTICE = "notice"  # tell a person about an item (intake thread or DM)
