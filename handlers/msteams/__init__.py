"""Microsoft Teams adapter (in progress): app package, cards, message text, a fake connector."""
