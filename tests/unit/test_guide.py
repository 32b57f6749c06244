"""The user guide (docs/guide.md) against the code it describes.

The guide's config reference is checked against ibdesk/config.py: every section and key is
there, with the default the code has, and with a comment that says what it is. A key added
to the code without a line in the guide fails here, so the reference cannot drift. The
troubleshooting section must quote every banner ibdesk.domain.notices makes and the state
band's words. Its pictures must be ones docs/screenshots.py makes (so they can be made
again from the demo), and its links must lead somewhere.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ibdesk import config
from ibdesk.alerts.kinds import default_routes
from ibdesk.domain.alerts import AlertKind

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guide.md"
README = ROOT / "README.md"
MARKER = "<!-- The block below is checked by tests/unit/test_guide.py against ibdesk/config.py. -->"


def reference_block() -> str:
    """The TOML block that follows the marker in the guide's config section."""
    text = GUIDE.read_text(encoding="utf-8")
    assert MARKER in text, "the guide's config reference lost its marker"
    after = text.split(MARKER, 1)[1]
    found = re.match(r"\s*```toml\n(.*?)\n```", after, re.DOTALL)
    assert found, "no ```toml block right after the marker"
    return found.group(1)


def sections() -> dict[str, Any]:
    """Settings' sections by name (the file's tables), each with its own class's defaults
    (the suite's conftest gives ``Settings()`` no nightly restart; the guide has the real)."""
    return {
        f.name: type(getattr(config.Settings(), f.name))()
        for f in dataclasses.fields(config.Settings)
        if f.name != "path"
    }


def test_the_reference_is_a_valid_config_file() -> None:
    config.from_mapping(tomllib.loads(reference_block()), "the guide")


@pytest.mark.parametrize("section", sorted(sections()))
def test_every_key_is_in_the_reference_with_the_codes_default(section: str) -> None:
    parsed = tomllib.loads(reference_block())
    assert section in parsed, f"[{section}] is missing from the guide's config reference"
    defaults = sections()[section]
    keys = {f.name for f in dataclasses.fields(defaults)}
    missing = keys - set(parsed[section])
    assert not missing, f"[{section}] keys missing from the guide: {sorted(missing)}"
    loaded = getattr(config.from_mapping(parsed, "the guide"), section)
    for key in sorted(keys - {"routes"}):  # routes: the next test
        assert getattr(loaded, key) == getattr(defaults, key), (
            f"[{section}] {key}: the guide says {getattr(loaded, key)!r}, "
            f"the code's default is {getattr(defaults, key)!r}"
        )


def test_the_alert_routes_in_the_reference_are_the_defaults() -> None:
    """The config's own default for routes is empty (a kind not named keeps its channels);
    the guide shows what those channels are. The test alert is left out: its button sends
    to every channel whatever its route says."""
    routes = tomllib.loads(reference_block())["alerts"]["routes"]
    wanted = {
        kind.value: {c.value for c in channels}
        for kind, channels in default_routes().items()
        if kind is not AlertKind.TEST
    }
    assert {kind: set(channels) for kind, channels in routes.items()} == wanted


def test_every_key_of_the_reference_says_what_it_is() -> None:
    """A comment on the key's line, or on the line before it."""
    lines = reference_block().splitlines()
    bare = []
    for i, line in enumerate(lines):
        if re.match(r'^("[^"]+"|[\w*]+)\s*=', line) and "#" not in line:
            before = lines[i - 1].strip() if i else ""
            if not before.startswith("#"):
                bare.append(line)
    assert not bare, f"keys with no word of explanation: {bare}"


def screenshots() -> ModuleType:
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "docs" / "screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_every_picture_is_one_the_script_makes_and_is_there() -> None:
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", GUIDE.read_text(encoding="utf-8"))
    assert pictures, "the guide has no pictures"
    made = {f"{shot.name}.png" for shot in screenshots().SHOTS}
    for picture in pictures:
        assert picture in made, f"{picture} is not made by docs/screenshots.py"
        assert (GUIDE.parent / picture).is_file(), f"{picture} is missing: run the script"


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for a document's headings: lower case, punctuation dropped, spaces
    to hyphens (the ones the guide uses need no more than that)."""
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", markdown, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_the_guides_links_lead_somewhere() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for target in re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)", text):
        if target.startswith("http"):
            continue
        path, _, anchor = target.partition("#")
        document = (GUIDE.parent / path).resolve() if path else GUIDE
        assert document.is_file(), f"{target}: no such file"
        if anchor:
            assert anchor in anchors(document.read_text(encoding="utf-8")), (
                f"{target}: no such heading"
            )


def test_the_readme_links_to_the_guide() -> None:
    assert "(docs/guide.md)" in README.read_text(encoding="utf-8")


# ---- troubleshooting: every banner the connection can raise, in the guide's words -------------

HOST, PORT, NOW = "127.0.0.1", 7497, 1_800_000_000.0


def banners() -> dict[str, str]:
    """Each notice ``ibdesk.domain.notices`` makes, with the guide's example values, by name."""
    from ibdesk.domain import notices as n

    made = {
        f"notice_for({code})": n.notice_for(code, "", NOW)
        for code in (1100, 1101, 1102, 2110, 10197, 326)
    }
    made |= {
        "refused_notice": n.refused_notice(HOST, PORT, NOW),
        "connection_lost": n.connection_lost(HOST, PORT, NOW, NOW),
        "reconnecting": n.reconnecting(HOST, PORT, 3, 3, NOW, NOW),
        "client_id_fallback": n.client_id_fallback(1, NOW),
        "client_ids_exhausted": n.client_ids_exhausted(1, 5, NOW),
        "handshake_timeout": n.handshake_timeout(HOST, PORT, NOW),
        "account_not_managed": n.account_not_managed("DU1", ("DU2",), NOW),
        "data_silence": n.data_silence(8, 5, NOW),
        "garbled_stream": n.garbled_stream(2**31, NOW),
        "data_restored": n.data_restored(False, NOW, NOW),
    }
    return {name: notice.text for name, notice in made.items() if notice is not None}


def words(text: str) -> str:
    return " ".join(text.split())


def test_every_notice_maker_is_known_here() -> None:
    """A new kind of banner fails this test until it has a line in the guide (and above)."""
    import inspect

    from ibdesk.domain import notices

    makers = {
        name
        for name, f in inspect.getmembers(notices, inspect.isfunction)
        if f.__module__ == notices.__name__
        and not name.startswith("_")
        and "Notice" in str(inspect.signature(f).return_annotation)
    }
    known = {name.split("(")[0] for name in banners()}
    assert makers == known, f"not in the troubleshooting test: {sorted(makers - known)}"


@pytest.mark.parametrize("name", sorted(banners()))
def test_the_troubleshooting_section_quotes_each_banner(name: str) -> None:
    """Its first 40 characters (before any time of day), word for word."""
    guide = words(GUIDE.read_text(encoding="utf-8").split("## Troubleshooting", 1)[1])
    opening = words(banners()[name])[:40]
    assert opening in guide, f"{name}: the guide does not quote {opening!r}"


def test_the_troubleshooting_section_quotes_the_state_band() -> None:
    from ibdesk.ui.state_band import MEANING

    guide = words(GUIDE.read_text(encoding="utf-8").split("## Troubleshooting", 1)[1])
    for state, meaning in MEANING.items():
        assert f"{state.value} {meaning}" in guide, f"the {state.value} band is not quoted"
