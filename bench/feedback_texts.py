"""Feedback texts with the variety of real support phrasing, for seeding large histories.

A team's texts name its product's parts and their faults in many ways, with contexts,
ids and the odd typo, so that full-text search meets the spread of words a real
history has (a handful of templates would make every word common to a third of all
items). Deterministic for a given random.Random.
"""

from __future__ import annotations

import random

AREAS: dict[str, tuple[list[str], list[str]]] = {
    "payments": (
        ["refund", "invoice", "card payment", "checkout", "billing page", "subscription",
         "VAT on the invoice", "coupon code", "receipt", "payment method", "bank transfer",
         "annual plan", "seat count", "credit note", "direct debit"],
        ["never arrived", "was charged twice", "shows the wrong amount", "is declined",
         "times out", "cannot be downloaded", "is missing", "is applied twice",
         "uses the wrong currency", "was not cancelled", "fails with a 500 error",
         "shows an old address", "is rounded wrongly", "is stuck in pending",
         "doesn't accept Amex"]),
    "mobile": (
        ["iOS app", "Android app", "push notification", "photo upload", "login screen",
         "offline mode", "app update", "dark mode", "home screen widget", "biometric unlock",
         "tablet layout", "camera scan", "in-app browser", "app badge", "share sheet"],
        ["crashes on start", "logs them out", "freezes after a minute", "drains the battery",
         "shows a blank screen", "loses their changes", "is unreadable", "won't install",
         "loops forever", "is very slow", "ignores the setting", "crashes when rotating",
         "opens the wrong page", "shows duplicate entries", "stops syncing"]),
    "triage": (
        ["data retention", "Enterprise plan", "SSO", "data export", "account deletion",
         "GDPR request", "trial extension", "pricing page", "onboarding email", "team invite",
         "API access", "audit log", "user roles", "storage quota", "status page"],
        ["question from legal", "needs a quote", "is unclear to them", "was promised by sales",
         "is missing from the docs", "needs an answer this week", "was asked again",
         "is a blocker for renewal", "confuses new admins", "contradicts the contract",
         "came up in the QBR", "is needed for an audit", "needs a workaround",
         "was requested by their CTO", "is a feature request"]),
    "exports": (
        ["CSV export", "Excel export", "PDF report", "scheduled report", "yearly export",
         "export API", "date column", "column headers", "report email", "zip archive",
         "custom fields export", "chart export", "raw data dump", "audit export",
         "export filter"],
        ["is empty", "garbles umlauts", "times out", "arrives late", "shifts dates by a day",
         "cuts off columns", "has duplicate rows", "ignores the filter", "is never sent",
         "has the wrong delimiter", "fails for large ranges", "misses custom fields",
         "is in the wrong timezone", "repeats the header", "downloads a broken file"]),
    "notifications": (
        ["email notification", "push alert", "daily digest", "mention notification",
         "reminder email", "notification setting", "unsubscribe link", "quiet hours",
         "weekly summary", "SMS alert", "desktop notification", "comment notification",
         "escalation alert", "digest time", "notification badge"],
        ["arrives twice", "never arrives", "comes at 3am", "resets after an update",
         "goes to spam", "links to the wrong item", "ignores mute", "shows raw HTML",
         "is sent to removed users", "is delayed by hours", "cannot be turned off",
         "shows the wrong count", "is in English only", "misses attachments",
         "duplicates the subject"]),
    "integrations": (
        ["Slack integration", "webhook", "Salesforce sync", "Jira link", "API rate limit",
         "Zapier trigger", "Google Calendar sync", "HubSpot import", "SCIM provisioning",
         "OAuth token", "Teams connector", "GitHub app", "REST API", "CSV import",
         "SAML metadata"],
        ["disconnects every few days", "doesn't fire", "creates duplicates",
         "returns 429 too early", "loses fields", "fails with invalid token",
         "posts to the wrong channel", "times out on large payloads", "skips records",
         "needs re-authorising daily", "sends malformed JSON", "ignores deleted users",
         "stops after an hour", "maps the wrong owner", "breaks on unicode names"]),
}
CONTEXTS = [
    "since the last update", "on Safari", "for their EU workspace", "only for admins",
    "after the DST change", "on the new plan", "for some users", "every Monday",
    "in the German locale", "after they reset their password", "on iOS 17",
    "when the VPN is on", "since yesterday", "for accounts migrated last month",
    "on Android 14", "in Chrome only", "for big teams", "when they use SSO",
    "after switching workspaces", "with more than 10k rows", "on slow networks",
    "in the trial", "for guest users", "at month end", "after renaming the project",
    "in Firefox", "with two monitors", "on the web app too", "when offline",
    "after inviting a colleague",
]
OPENERS = ["", "", "", "Customer says ", "Hi team, ", "FYI: ", "Urgent: ",
           "Their admin reports that ", "Another one: ", "They told me "]
TEMPLATES = [
    "{opener}the {subject} {problem} {context}",
    "{opener}{subject} {problem}",
    "{opener}{subject} {problem}, {context}. Ticket #{n}",
    "{opener}{context} the {subject} {problem}",
    "{opener}{subject}: {problem} ({n} users affected)",
    "{opener}why does the {subject} {problem}? {context}",
]


def _typo(text: str, rng: random.Random) -> str:
    """`text` with two neighbouring letters of one longer word swapped."""
    parts = text.split(" ")
    long_words = [index for index, word in enumerate(parts) if len(word) > 5 and word.isalpha()]
    if not long_words:
        return text
    index = rng.choice(long_words)
    word = parts[index]
    at = rng.randrange(1, len(word) - 2)
    parts[index] = word[:at] + word[at + 1] + word[at] + word[at + 2:]
    return " ".join(parts)


def feedback_text(rng: random.Random, team: str) -> str:
    """One forwarded text for `team` (teams outside AREAS borrow an area by name)."""
    area = AREAS.get(team) or list(AREAS.values())[sum(map(ord, team)) % len(AREAS)]
    subjects, problems = area
    text = rng.choice(TEMPLATES).format(
        opener=rng.choice(OPENERS), subject=rng.choice(subjects), problem=rng.choice(problems),
        context=rng.choice(CONTEXTS), n=rng.randint(1000, 99999))
    if rng.random() < 0.15:
        text = _typo(text, rng)
    return text[0].upper() + text[1:]
