"""Make ibdesk's alert sounds: ``python packaging/sounds.py`` writes ibdesk/resources/sounds.

Each sound is a few sine tones with a short fade in and out (no clicks), 22,050 Hz, 16-bit
mono: small (10-30 KB), playable by every platform player, and distinct by ear:

- fill: a quick rising pair (E6, A6): something good happened.
- reject: two low, rough pulses: the broker said no.
- halt: three insistent high-low alternations: trading stopped.
- warning: a falling pair: the connection or the trading state needs a look.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 22_050
FADE = 0.008  # seconds: a click-free start and end of every tone
OUT = Path(__file__).resolve().parent.parent / "ibdesk" / "resources" / "sounds"

#: name -> [(frequency Hz (0: silence), seconds, amplitude 0..1, overtone 0..1)]
SOUNDS: dict[str, list[tuple[float, float, float, float]]] = {
    "fill": [(1318.5, 0.07, 0.45, 0.0), (0, 0.02, 0, 0), (1760.0, 0.12, 0.45, 0.0)],
    "reject": [(233.1, 0.16, 0.55, 0.6), (0, 0.06, 0, 0), (196.0, 0.22, 0.55, 0.6)],
    "halt": [
        (987.8, 0.12, 0.6, 0.25),
        (740.0, 0.12, 0.6, 0.25),
        (987.8, 0.12, 0.6, 0.25),
        (740.0, 0.12, 0.6, 0.25),
        (987.8, 0.12, 0.6, 0.25),
        (740.0, 0.16, 0.6, 0.25),
    ],
    "warning": [(880.0, 0.14, 0.5, 0.1), (0, 0.03, 0, 0), (587.3, 0.2, 0.5, 0.1)],
}


def tone(freq: float, seconds: float, amplitude: float, overtone: float) -> list[int]:
    """One tone as 16-bit samples: a sine plus an optional third harmonic (roughness)."""
    count = round(seconds * RATE)
    fade = max(1, round(FADE * RATE))
    samples = []
    for i in range(count):
        envelope = min(1.0, i / fade, (count - 1 - i) / fade)
        t = i / RATE
        wave_ = math.sin(2 * math.pi * freq * t) + overtone * math.sin(6 * math.pi * freq * t)
        value = amplitude * envelope * wave_ / (1 + overtone) if freq else 0.0
        samples.append(round(value * 32_767))
    return samples


def write(name: str, parts: list[tuple[float, float, float, float]], folder: Path) -> Path:
    """Write one sound; returns its path."""
    samples = [s for part in parts for s in tone(*part)]
    path = folder / f"{name}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return path


def main() -> None:
    """Write every sound into the package."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name, parts in SOUNDS.items():
        path = write(name, parts, OUT)
        print(f"{path.relative_to(OUT.parent.parent.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
