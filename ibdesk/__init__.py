"""ibdesk: a desktop trader workstation for Interactive Brokers, with its own simulated TWS."""

__version__ = "0.1.0"
