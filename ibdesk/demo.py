"""The demo: the embedded simulated TWS with a few positions and orders, and the settings that
point a desk at it (``ibdesk --demo``, ``ibdesk run --demo``)."""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from ibdesk import config

if TYPE_CHECKING:
    from ibdesk.simtws.runner import SimThread

DEMO_POSITIONS = (("MES", 2.0), ("CL", -1.0), ("AAPL", 100.0))
DEMO_WATCHLIST = ("ES", "MES", "NQ", "CL", "GC", "AAPL", "NVDA", "SPY", "EUR.USD")


def start_demo(
    settings: config.Settings, sim_port: int | None
) -> tuple[SimThread, config.Settings]:
    """Start the simulated TWS (on ``sim_port``, or any free port) and return it with the
    settings that connect to it (the demo watchlist unless the config names one)."""
    from ibdesk.simtws import SimConfig, SimThread

    sim = SimThread(
        SimConfig(
            port=sim_port or 0,
            seed=1,
            positions=DEMO_POSITIONS,
            account_update_interval=3.0,
            # The desk is TWS's master API client, as a workstation should be: it sees the
            # orders typed into TWS (below) and those of other API clients.
            master_client_id=settings.connection.client_id,
        )
    ).start()
    _demo_orders(sim)
    logging.getLogger("ibdesk.demo").info("demo: simulated TWS on 127.0.0.1:%d", sim.port)
    connection = dataclasses.replace(
        settings.connection, host="127.0.0.1", port=sim.port, profile=""
    )
    watchlist = settings.watchlist
    if watchlist == config.WatchlistSettings():
        watchlist = config.WatchlistSettings(DEMO_WATCHLIST)
    return sim, dataclasses.replace(settings, connection=connection, watchlist=watchlist)


def _demo_orders(sim: SimThread) -> None:
    """Something on the default ES chart: a long ES position with its stop and its target,
    entered as if by hand in TWS before ibdesk started."""
    last = float(sim.control.quote("ES")["last"])
    sim.control.enter_manual_order("ES", "BUY", 1, "MKT")
    sim.control.enter_manual_order("ES", "SELL", 1, "STP", stop=round(last) - 5)
    sim.control.enter_manual_order("ES", "SELL", 1, "LMT", price=round(last) + 8)
