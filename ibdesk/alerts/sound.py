"""Alert sounds without QtMultimedia: the platform's own player, in a process of its own.

PySide6-Essentials has no QtMultimedia, and the add-on wheel (PySide6-Addons, ~200 MB with
its FFmpeg) is far too much for four short WAV files; the small Python players are
unmaintained. Every desktop already has a player that takes a WAV file: PipeWire's
``pw-play``, PulseAudio's ``paplay`` or ALSA's ``aplay`` on Linux, ``afplay`` on macOS, and
on Windows the standard library's ``winsound``. One short process per sound (started with
``posix_spawn``/``vfork``, a millisecond or two) never waits on the audio device, and the
loop never waits on it.

Where no player exists (a server, a container) :meth:`SoundPlayer.play` returns False and the
caller falls back (the window beeps through Qt).
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ibdesk import resources

log = logging.getLogger("ibdesk.alerts.sound")

LINUX_PLAYERS = ("pw-play", "paplay", "aplay -q")
MAC_PLAYERS = ("afplay",)


def find_player(configured: str = "") -> list[str] | None:
    """The command that plays a WAV file given as its last argument: the configured one
    (``[alerts] sound_player``), else the first platform player found on PATH; None when
    there is none (and on Windows, which uses winsound instead)."""
    if configured.strip():
        return shlex.split(configured)
    if sys.platform == "win32":
        return None
    for candidate in MAC_PLAYERS if sys.platform == "darwin" else LINUX_PLAYERS:
        argv = shlex.split(candidate)
        if shutil.which(argv[0]):
            return argv
    return None


class SoundPlayer:
    """Plays ibdesk's sounds by name (``fill``, ``reject``, ``halt``, ``warning``)."""

    def __init__(self, configured: str = "") -> None:
        self.command = find_player(configured)
        self._playing: list[subprocess.Popen[bytes]] = []
        self._files: dict[str, Path] = {}
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    @property
    def available(self) -> bool:
        """Whether sounds can be played at all here."""
        return self.command is not None or sys.platform == "win32"

    @property
    def name(self) -> str:
        """The player, for the test dialog (``paplay``, ``winsound``, ``none``)."""
        if self.command:
            return Path(self.command[0]).name
        return "winsound" if sys.platform == "win32" else "none"

    @property
    def playing(self) -> int:
        """How many sounds are still playing."""
        self._reap()
        return len(self._playing)

    def play(self, sound: str) -> bool:
        """Start playing; returns at once, False when the sound could not be started."""
        self._reap()
        path = self.file(sound)
        if sys.platform == "win32" and self.command is None:
            return _play_windows(path)
        if self.command is None:
            return False
        try:
            process = subprocess.Popen(
                [*self.command, str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            log.warning("cannot play an alert sound with %s: %s", self.name, exc)
            self.command = None  # do not try (and log) again on every alert
            return False
        self._playing.append(process)
        return True

    def file(self, sound: str) -> Path:
        """A path a player can open for the sound: the packaged file itself when the package
        is on disk, else a private copy (a zipped install)."""
        if sound not in self._files:
            traversable = resources.sound(sound)
            if isinstance(traversable, Path):
                self._files[sound] = traversable
            else:
                if self._folder is None:
                    self._folder = tempfile.TemporaryDirectory(prefix="ibdesk-sounds-")
                copy = Path(self._folder.name) / f"{sound}.wav"
                copy.write_bytes(traversable.read_bytes())
                self._files[sound] = copy
        return self._files[sound]

    def close(self) -> None:
        """Forget finished players (a sound still playing finishes on its own)."""
        self._reap()
        if self._folder is not None:
            with contextlib.suppress(OSError):
                self._folder.cleanup()

    def _reap(self) -> None:
        self._playing = [p for p in self._playing if p.poll() is None]


def _play_windows(path: Path) -> bool:
    try:
        import winsound
    except ImportError:
        return False
    winsound.PlaySound(str(path), winsound.SND_FILENAME | winsound.SND_ASYNC)  # type: ignore[attr-defined]
    return True
