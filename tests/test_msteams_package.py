"""The Teams app zip validates against Microsoft's pinned manifest schema (1.29)."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from bot.cli import main

SCHEMA_PATH = Path(__file__).parent / "fixtures" / "msteams" / "MicrosoftTeams.schema.json"
APP_ID = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"


def _errors(manifest: dict) -> list[str]:
    # check_schema would fail on the schema's \p{L} patterns; iter_errors compiles only
    # the patterns a manifest reaches (see fixtures/msteams/README.md).
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(manifest)]


def _package(tmp_path: Path, *args: str) -> zipfile.ZipFile:
    output = tmp_path / "app.zip"
    assert main(["teams-package", "--app-id", APP_ID, *args, "--output", str(output)]) == 0
    return zipfile.ZipFile(output)


def test_the_package_validates_against_microsofts_schema(tmp_path):
    archive = _package(tmp_path, "--url", "https://feedback.example.com")
    assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
    manifest = json.loads(archive.read("manifest.json"))
    assert _errors(manifest) == []
    assert manifest["manifestVersion"] == "1.29"
    assert manifest["id"] == APP_ID
    assert manifest["bots"][0]["botId"] == APP_ID
    assert sorted(manifest["bots"][0]["scopes"]) == ["groupChat", "personal", "team"]
    (command,) = manifest["composeExtensions"][0]["commands"]
    assert (command["id"], command["type"], command["context"], command["fetchTask"]) == (
        "forwardFeedback", "action", ["message"], True)
    assert manifest["authorization"]["permissions"]["resourceSpecific"] == [
        {"name": "ChannelMessage.Read.Group", "type": "Application"}]
    assert manifest["validDomains"] == ["feedback.example.com"]


def test_the_icons_have_the_sizes_teams_requires(tmp_path):
    archive = _package(tmp_path)
    color = Image.open(io.BytesIO(archive.read("color.png")))
    outline = Image.open(io.BytesIO(archive.read("outline.png")))
    assert color.size == (192, 192) and outline.size == (32, 32)
    # The outline icon is white on transparent.
    pixels = [rgba for _, rgba in outline.convert("RGBA").getcolors()]
    assert {rgba[:3] for rgba in pixels if rgba[3]} == {(255, 255, 255)}
    assert any(rgba[3] == 0 for rgba in pixels)


@pytest.mark.parametrize("breakage", ["bad bot id", "no icons", "command id too long", "extra"])
def test_a_broken_manifest_fails_validation(tmp_path, breakage):
    manifest = json.loads(_package(tmp_path).read("manifest.json"))
    broken = copy.deepcopy(manifest)
    if breakage == "bad bot id":
        broken["bots"][0]["botId"] = "not-a-guid"
    elif breakage == "no icons":
        del broken["icons"]
    elif breakage == "command id too long":
        broken["composeExtensions"][0]["commands"][0]["id"] = "x" * 65
    else:
        broken["bots"][0]["unknownSetting"] = True
    assert _errors(manifest) == []
    assert _errors(broken) != []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--app-id", "my-bot"], "--app-id must be the Entra app (client) id"),
        (["--app-id", APP_ID, "--url", "http://insecure.example.com"], "must be an https URL"),
    ],
)
def test_bad_arguments_get_a_clear_answer_and_write_nothing(tmp_path, capsys, args, message):
    output = tmp_path / "app.zip"
    assert main(["teams-package", *args, "--output", str(output)]) == 2
    assert message in capsys.readouterr().err
    assert not output.exists()
