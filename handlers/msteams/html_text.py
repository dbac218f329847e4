"""A Teams message's HTML body as plain text: full text, line breaks kept, mentions as names."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Tags that end a line of text (a paragraph, a block, a list item, a table row).
_BLOCK_TAGS = frozenset({
    "p", "div", "li", "ul", "ol", "tr", "table", "blockquote", "pre", "h1", "h2", "h3",
    "h4", "h5", "h6", "section", "article", "header", "footer",
})
_SKIPPED_TAGS = frozenset({"script", "style", "template", "head"})
_SPACES = re.compile(r"[ \t\r\n\f\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextCollector(HTMLParser):
    """Collects text, turning block ends and <br> into newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._pre = 0
        self._links: list[tuple[str | None, int]] = []

    def _newline(self) -> None:
        if self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self._newline()
            if tag == "li":
                self.parts.append("• ")
            if tag == "pre":
                self._pre += 1
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f"[{alt}]")
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), len(self.parts)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "a":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(self._skipping - 1, 0)
        elif tag in _BLOCK_TAGS:
            if tag == "pre":
                self._pre = max(self._pre - 1, 0)
            self._newline()
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            label = "".join(self.parts[start:]).strip()
            # Keep where a link pointed when its words don't say it: nothing is lost.
            if href and href.startswith(("http://", "https://", "mailto:")) and href != label:
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._pre:
            self.parts.append(data.replace("\u00a0", " "))
            return
        text = _SPACES.sub(" ", data)
        if text.startswith(" ") and (not self.parts or self.parts[-1].endswith((" ", "\n"))):
            text = text[1:]
        if text:
            self.parts.append(text)


def html_to_text(html: str) -> str:
    """The plain text a reader sees in a Teams message body (`<at>Name</at>` becomes Name)."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = [line.rstrip(" ") for line in "".join(collector.parts).split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")
