"""`themes: weekly` on a digest subscription: off by default, other values refused clearly."""

from __future__ import annotations

from bot.cli import main
from bot.config_loader import parse_config_text

CONFIG = """\
teams:
  payments:
    channel: C0PAYMENTS
    owners: [U0ALICE]
fallback: payments
digests:
  - channel: C0MANAGERS
    at: "09:00"
{themes}"""


def test_themes_are_off_unless_a_subscription_asks_for_them_weekly():
    loaded = parse_config_text(CONFIG.format(themes=""))
    assert loaded.config is not None and loaded.config.digests[0].themes == "off"
    loaded = parse_config_text(CONFIG.format(themes="    themes: weekly\n"))
    assert loaded.config is not None and loaded.config.digests[0].themes == "weekly"


def test_check_config_names_the_file_line_and_key_of_a_bad_themes_value(tmp_path, capsys):
    path = tmp_path / "feedbackbot.yml"
    path.write_text(CONFIG.format(themes="    themes: daily\n"))
    assert main(["--config", str(path), "check-config"]) == 1
    out = capsys.readouterr().out
    assert f"{path}:9: digests[0].themes: error: expected 'off' or 'weekly', got 'daily'" in out
    # YAML 1.2: `yes` is text, not true, and is refused the same way.
    loaded = parse_config_text(CONFIG.format(themes="    themes: yes\n"))
    assert [str(problem) for problem in loaded.errors] == [
        "feedbackbot.yml:9: digests[0].themes: error: expected 'off' or 'weekly', got 'yes'"]
