"""packaging/linux/install.sh puts a bundle where a Linux desktop finds it: the folder, a
command, the desktop entry (pointing at the installed executable) and the icon; and takes it
all away again. Run against a stand-in bundle (the real one: tests/bundle)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import ibdesk
from ibdesk import resources

ROOT = Path(ibdesk.__file__).parent.parent
SCRIPT = ROOT / "packaging" / "linux" / "install.sh"

pytestmark = pytest.mark.skipif(
    os.name != "posix" or shutil.which("bash") is None, reason="a POSIX shell script"
)


def fake_bundle(folder: Path) -> Path:
    """A folder shaped like PyInstaller's: the executable and _internal/ with the package's
    resources."""
    bundle = folder / "ibdesk"
    inside = bundle / "_internal" / "ibdesk" / "resources"
    inside.mkdir(parents=True)
    (inside / "ibdesk.desktop").write_text(resources.desktop_entry())
    (inside / "ibdesk.svg").write_bytes(resources.icon_svg())
    exe = bundle / "ibdesk"
    exe.write_text('#!/bin/sh\necho "ibdesk bundle $*"\n')
    exe.chmod(0o755)
    return bundle


def install(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(args[0]), *map(str, args[1:])],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "PATH": os.environ.get("PATH", "")},
        check=False,
    )


def test_install_then_uninstall(tmp_path: Path) -> None:
    bundle, prefix = fake_bundle(tmp_path / "dist"), tmp_path / "home" / ".local"
    result = install(SCRIPT, "--prefix", prefix, bundle)
    assert result.returncode == 0, result.stderr
    app = prefix / "lib" / "ibdesk" / "ibdesk"
    command = prefix / "bin" / "ibdesk"
    entry = prefix / "share" / "applications" / "ibdesk.desktop"
    icon = prefix / "share" / "icons" / "hicolor" / "scalable" / "apps" / "ibdesk.svg"
    assert os.access(app, os.X_OK) and icon.read_bytes() == resources.icon_svg()
    ran = subprocess.run([command, "kill", "--help"], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "ibdesk bundle kill --help"
    lines = entry.read_text().splitlines()
    assert f'Exec="{app}"' in lines and "Icon=ibdesk" in lines
    assert sum(line.startswith("Exec=") for line in lines) == 1
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(entry)], check=True)
    # Again over the top (an update), then away.
    assert install(SCRIPT, "--prefix", prefix, bundle).returncode == 0
    result = install(SCRIPT, "--prefix", prefix, "--uninstall")
    assert result.returncode == 0, result.stderr
    assert not any(p.exists() or p.is_symlink() for p in (app.parent, command, entry, icon))


def test_the_copy_inside_the_bundle_installs_its_own_folder(tmp_path: Path) -> None:
    bundle, prefix = fake_bundle(tmp_path / "dist"), tmp_path / "prefix"
    shutil.copy2(SCRIPT, bundle / "install.sh")
    result = install(bundle / "install.sh", "--prefix", prefix, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (prefix / "lib" / "ibdesk" / "install.sh").exists()
    assert "is not on your PATH" in result.stdout


def test_a_folder_that_is_not_a_bundle_is_refused(tmp_path: Path) -> None:
    result = install(SCRIPT, "--prefix", tmp_path / "prefix", tmp_path)
    assert result.returncode == 2 and "is not an ibdesk bundle" in result.stderr
    assert not (tmp_path / "prefix").exists()
