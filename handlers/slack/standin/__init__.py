"""A fake Slack workspace and Slack's inbound payloads, for tests and `feedbackbot demo`."""
