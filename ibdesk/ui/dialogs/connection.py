"""Choose where to connect: IB's presets (TWS/Gateway, live/paper) or a custom address."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from ibdesk.config import PROFILES, ConnectionSettings

LABELS = {
    "tws-live": "TWS, live (7496)",
    "tws-paper": "TWS, paper (7497)",
    "gateway-live": "IB Gateway, live (4001)",
    "gateway-paper": "IB Gateway, paper (4002)",
    "": "Custom",
}


class ConnectionDialog(QDialog):
    """Host, port, client id and account, with the presets filling in the port."""

    def __init__(self, current: ConnectionSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to TWS / IB Gateway")
        form = QFormLayout(self)
        self.profile = QComboBox(self)
        for key, label in LABELS.items():
            self.profile.addItem(label, key)
        self.host = QLineEdit(current.host, self)
        self.port = QSpinBox(self)
        self.port.setRange(1, 65535)
        self.port.setValue(current.port)
        self.client_id = QSpinBox(self)
        self.client_id.setRange(0, 2**31 - 2)
        self.client_id.setValue(current.client_id)
        self.account = QLineEdit(current.account, self)
        self.account.setPlaceholderText("first managed account")
        form.addRow("Preset", self.profile)
        form.addRow("Host", self.host)
        form.addRow("Port", self.port)
        form.addRow("Client id", self.client_id)
        form.addRow("Account", self.account)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Connect")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.profile.setCurrentIndex(max(0, self.profile.findData(current.profile)))
        self.profile.currentIndexChanged.connect(self._preset)
        self.port.valueChanged.connect(self._custom_port)

    def _preset(self) -> None:
        key = self.profile.currentData()
        if key in PROFILES:
            self.port.setValue(PROFILES[key])

    def _custom_port(self, port: int) -> None:
        key = self.profile.currentData()
        if key in PROFILES and PROFILES[key] != port:
            self.profile.setCurrentIndex(self.profile.findData(""))

    def settings(self, base: ConnectionSettings) -> ConnectionSettings:
        """The chosen connection (other settings kept from ``base``)."""
        import dataclasses

        return dataclasses.replace(
            base,
            profile=self.profile.currentData() or "",
            host=self.host.text().strip() or "127.0.0.1",
            port=self.port.value(),
            client_id=self.client_id.value(),
            account=self.account.text().strip(),
        )
