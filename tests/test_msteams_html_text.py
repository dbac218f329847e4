"""A Teams message's HTML body becomes the plain text its reader sees, all of it."""

from __future__ import annotations

from handlers.msteams.html_text import html_to_text


def test_paragraphs_breaks_and_divs_become_lines():
    html = "<p>The app crashes</p><p>on login<br>every time</p><div>since Monday</div>"
    assert html_to_text(html) == "The app crashes\non login\nevery time\nsince Monday"


def test_mentions_become_names_and_entities_are_decoded():
    html = '<p><at id="0">Feedback Bot</at> refund&nbsp;failed &amp; they&#39;re &lt;angry&gt;</p>'
    assert html_to_text(html) == "Feedback Bot refund failed & they're <angry>"


def test_source_whitespace_collapses_as_a_browser_shows_it():
    html = "<div>\n   one\n   two   </div>\n<div>three</div>"
    assert html_to_text(html) == "one two\nthree"


def test_lists_links_and_images_keep_what_they_say():
    html = ('<ul><li>first</li><li>second</li></ul><p>see <a href="https://status.example/1">'
            'the status page</a> or <a href="https://x.example">https://x.example</a>'
            ' <img alt="screenshot" src="https://x.example/i.png"></p>')
    assert html_to_text(html) == (
        "• first\n• second\nsee the status page (https://status.example/1) or"
        " https://x.example [screenshot]")


def test_scripts_and_styles_are_not_text():
    html = "<style>p{color:red}</style><p>words</p><script>alert('x')</script>"
    assert html_to_text(html) == "words"


def test_preformatted_text_keeps_its_layout():
    assert html_to_text("<pre>line 1\n    indented</pre>") == "line 1\n    indented"


def test_huge_text_is_kept_whole():
    words = " ".join(f"word{n}" for n in range(50_000))
    assert html_to_text(f"<p>{words}</p>") == words


def test_broken_html_and_odd_unicode_lose_nothing():
    html = "<p>unclosed <b>bold <i>and 🚀 مرحبا e\u0301 \u202etxt.exe<p>next"
    assert html_to_text(html) == "unclosed bold and 🚀 مرحبا e\u0301 \u202etxt.exe\nnext"


def test_plain_text_without_tags_comes_back_unchanged():
    assert html_to_text("just words, 3 < 4 & 5 > 2") == "just words, 3 < 4 & 5 > 2"
