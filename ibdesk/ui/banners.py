"""Banners across the top of the window for notices a trader must not miss."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ibdesk.domain.connection import Notice, Severity
from ibdesk.state.link import LinkStore
from ibdesk.ui import theme

TOKENS = {Severity.INFO: "ok", Severity.WARNING: "warn", Severity.ERROR: "error"}


class Banner(QFrame):
    """One notice, with a dismiss button."""

    def __init__(
        self, notice: Notice, on_dismiss: Callable[[], None], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.notice = notice
        self.setObjectName("Banner")
        color = theme.current().color(TOKENS[notice.severity]).name()
        self.setStyleSheet(
            f"#Banner {{ border-left: 4px solid {color}; background: {theme.current().alt_base}; }}"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel(notice.text, self)
        self.label.setWordWrap(True)
        layout.addWidget(self.label, 1)
        close = QPushButton("Dismiss", self)
        close.setFlat(True)
        close.clicked.connect(on_dismiss)
        layout.addWidget(close)


class BannerArea(QWidget):
    """Shows the LinkStore's notices; one banner per notice key.

    Signals:
        emptied(bool): True when the last banner went, False when the first arrived.
    """

    emptied = Signal(bool)

    def __init__(self, link: LinkStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.link = link
        self.banners: dict[str, Banner] = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        for notice in link.notices.values():
            self.show_notice(notice)
        link.notice += self.show_notice
        link.cleared += self.withdraw

    def close_store(self) -> None:
        """Stop listening (the window is closing)."""
        self.link.notice -= self.show_notice
        self.link.cleared -= self.withdraw

    def show_notice(self, notice: Notice) -> None:
        """Show a notice, replacing the banner with the same key."""
        self.withdraw(notice.key)
        banner = Banner(notice, lambda: self.link.clear(notice.key), self)
        self.banners[notice.key] = banner
        self._layout.addWidget(banner)
        if len(self.banners) == 1:
            self.emptied.emit(False)

    def withdraw(self, key: str) -> None:
        """Remove the banner with this key."""
        banner = self.banners.pop(key, None)
        if banner is not None:
            # Keep the parent: Qt owns the widget and deletes it later. setParent(None) would
            # hand it to Python, which frees it at once when this reference goes, and the
            # queued deleteLater would then touch freed memory.
            self._layout.removeWidget(banner)
            banner.hide()
            banner.deleteLater()
            if not self.banners:
                self.emptied.emit(True)

    def texts(self) -> list[str]:
        """What the banners say (for tests and screen readers)."""
        return [b.notice.text for b in self.banners.values()]
