"""The running desk, without Qt: stores, broker services, the gate, the kill switch and their
operations (``core.Desk``), seen by its users through the role protocols of ``api``."""
