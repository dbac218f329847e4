"""A local stand-in for Microsoft Teams: activities as Teams sends them, for the demo and tests."""
