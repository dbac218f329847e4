"""Escaping customer text for Slack: nothing can ping, and Slack's own entities survive."""

from __future__ import annotations

import pytest

from handlers.slack.render import cut, escape, person


@pytest.mark.parametrize(("raw", "shown"), [
    ("<!channel> <!here> <@U0ALICE>", "&lt;!channel&gt; &lt;!here&gt; &lt;@U0ALICE&gt;"),
    ("R&D", "R&amp;D"),
    ("&copy; and &#60;", "&amp;copy; and &amp;#60;"),
    # Message text from Slack arrives escaped already; it must not be escaped twice.
    ("a &lt; b &amp;&amp; c &gt; d", "a &lt; b &amp;&amp; c &gt; d"),
])
def test_escape(raw, shown):
    assert escape(raw) == shown


def test_cut_never_splits_an_entity():
    text = escape("x" * 9 + "<")  # "xxxxxxxxx&lt;"
    shortened, was_cut = cut(text, 11)
    assert was_cut and shortened == "xxxxxxxxx…"


def test_person_mentions_users_but_not_bots():
    assert person("U0ALICE") == "<@U0ALICE>"
    assert person("W0GRID") == "<@W0GRID>"
    assert person("B0ZENDESK") == "B0ZENDESK"
    assert person("<!channel>") == "&lt;!channel&gt;"
