"""The files ibdesk ships (icon, desktop entry, alert sounds) live inside the package, are read
through importlib.resources, and are declared as package data so that a wheel, and a bundle
built from one, carries them."""

from __future__ import annotations

import io
import tomllib
import wave
from pathlib import Path

import ibdesk
from ibdesk import resources

ROOT = Path(ibdesk.__file__).parent.parent


def test_the_icon_is_an_svg_inside_the_package() -> None:
    svg = resources.icon_svg()
    assert svg.lstrip().startswith(b"<svg") and b"</svg>" in svg


def test_the_desktop_entry_names_the_icon_and_the_command() -> None:
    entry = resources.desktop_entry()
    assert entry.startswith("[Desktop Entry]\n")
    fields = dict(line.split("=", 1) for line in entry.splitlines()[1:] if "=" in line)
    assert fields["Exec"].split()[0] == "ibdesk"
    assert fields["Icon"] == resources.APP_ID
    assert fields["StartupWMClass"] == resources.APP_ID


def test_every_sound_is_a_short_distinct_wav() -> None:
    seen = set()
    for name in resources.SOUNDS:
        data = resources.sound(name).read_bytes()
        with wave.open(io.BytesIO(data)) as wav:
            seconds = wav.getnframes() / wav.getframerate()
            assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        assert 0.05 < seconds < 1.5, (name, seconds)
        seen.add(data)
    assert len(seen) == len(resources.SOUNDS)


def test_every_resource_file_is_declared_package_data() -> None:
    """What setuptools puts in the wheel: each file under ibdesk/resources matches one of
    pyproject.toml's package-data patterns for its package."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setup["package-data"]["ibdesk.resources"]
    folder = ROOT / "ibdesk" / "resources"
    shipped = [
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert len(shipped) >= 2 + len(resources.SOUNDS)
    for path in shipped:
        relative = path.relative_to(folder).as_posix()
        assert any(Path(relative).match(pattern) for pattern in patterns), relative
