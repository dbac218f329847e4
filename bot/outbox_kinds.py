"""Names of outbox entry kinds, shared by the core and the worker."""

from __future__ import annotations

CARD = "card"  # post the routed card for an item
CARD_UPDATE = "card_update"  # re-render an item's card in place
NOTICE = "notice"  # tell a person about an item (intake thread or DM)
CARD_MOVED = "card_moved"  # mark an old card as moved, linking to the new one
RELAY_EDIT = "relay_edit"  # a relayed reply was edited: edit the relay
RELAY_DELETE = "relay_delete"  # a relayed reply was deleted: delete the relay
EPHEMERAL = "ephemeral"  # a message only one person in a channel sees
DIGEST = "digest"  # post one digest period (built when sent) with its chart
NOTICE_EDIT = "notice_edit"  # rewrite a notice already sent (an answered +1 offer)
