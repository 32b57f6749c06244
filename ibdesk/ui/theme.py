"""Dark (default) and light themes, and the semantic colours tables use."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Theme:
    """A palette and the colours that carry meaning (gains, losses, stale data, states)."""

    name: str
    window: str
    base: str
    alt_base: str
    text: str
    dim: str
    highlight: str
    gain: str
    loss: str
    stale: str
    naked: str
    warn: str
    error: str
    ok: str
    live: str
    """ reserved for real money: a LIVE account's frame and badge, nothing else """
    disabled: str
    """ the text of a control that cannot be used now """

    def color(self, token: str) -> QColor:
        """The QColor for a semantic token (``gain``, ``loss``, ``stale`` …)."""
        return QColor(getattr(self, token))


DARK = Theme(
    "dark",
    window="#1e2126",
    base="#16181c",
    alt_base="#1b1e23",
    text="#d8dde3",
    dim="#8a929c",
    highlight="#2f6fb0",
    gain="#3fb950",
    loss="#f05a5a",
    stale="#3a2f1a",
    naked="#5a1d1d",
    warn="#d29922",
    error="#f85149",
    ok="#3fb950",
    live="#d2a8ff",
    disabled="#5b626b",
)
LIGHT = Theme(
    "light",
    window="#f3f4f6",
    base="#ffffff",
    alt_base="#f7f8fa",
    text="#1d2329",
    dim="#5d6670",
    highlight="#2f6fb0",
    gain="#1a7f37",
    loss="#cf222e",
    stale="#fff2cc",
    naked="#ffd7d5",
    warn="#9a6700",
    error="#cf222e",
    ok="#1a7f37",
    live="#8250df",
    disabled="#a0a7b0",
)
THEMES = {"dark": DARK, "light": LIGHT}

_in_use = {"theme": DARK}


def current() -> Theme:
    """The theme in use."""
    return _in_use["theme"]


def apply(app: QApplication, name: str) -> Theme:
    """Switch the whole application to a theme (Fusion style, so it looks the same
    everywhere)."""
    theme = THEMES[name]
    _in_use["theme"] = theme
    app.setStyle("Fusion")
    pal = QPalette()
    for role, value in (
        (QPalette.ColorRole.Window, theme.window),
        (QPalette.ColorRole.Base, theme.base),
        (QPalette.ColorRole.AlternateBase, theme.alt_base),
        (QPalette.ColorRole.Text, theme.text),
        (QPalette.ColorRole.WindowText, theme.text),
        (QPalette.ColorRole.Button, theme.window),
        (QPalette.ColorRole.ButtonText, theme.text),
        (QPalette.ColorRole.ToolTipBase, theme.base),
        (QPalette.ColorRole.ToolTipText, theme.text),
        (QPalette.ColorRole.PlaceholderText, theme.dim),
        (QPalette.ColorRole.Highlight, theme.highlight),
        (QPalette.ColorRole.HighlightedText, "#ffffff"),
    ):
        pal.setColor(role, QColor(value))
    # A control that cannot be used must look it (issue 14: a disabled Submit looked live).
    disabled = QPalette.ColorGroup.Disabled
    for role in (
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.WindowText,
    ):
        pal.setColor(disabled, role, QColor(theme.disabled))
    pal.setColor(disabled, QPalette.ColorRole.Button, QColor(theme.base))
    app.setPalette(pal)
    return theme
