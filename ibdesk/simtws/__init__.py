"""A simulated TWS: the TWS API wire protocol over TCP, with a market, a matching engine,
accounts and fault injection. Unmodified ib_async and ib_insync connect to it as to TWS.

It imports neither client library nor Qt, so it can run anywhere Python runs::

    python -m ibdesk.simtws --port 7497 --control-port 7498 --seed 1
"""

from ibdesk.simtws.config import SimConfig
from ibdesk.simtws.control import SimControl
from ibdesk.simtws.engine import EngineConfig
from ibdesk.simtws.runner import SimThread, Simulator
from ibdesk.simtws.server import InboundRecord, SimServer

__all__ = [
    "EngineConfig",
    "InboundRecord",
    "SimConfig",
    "SimControl",
    "SimServer",
    "SimThread",
    "Simulator",
]
