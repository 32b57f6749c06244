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
    settings: config.Settings, sim_port: int | None, control_port: int | None = None
) -> tuple[SimThread, config.Settings]:
    """Start the simulated TWS (on ``sim_port``, or any free port) with its control port (on
    ``control_port``, or any free port: the demo is where a trader tries faults) and return
    it with the settings that connect to it (the demo watchlist unless the config names one).

    Raises:
        OSError: a port asked for is taken.
    """
    from ibdesk.simtws import SimConfig, SimThread

    sim = SimThread(
        SimConfig(
            port=sim_port or 0,
            control_port=control_port or 0,
            seed=1,
            positions=DEMO_POSITIONS,
            account_update_interval=3.0,
            # The desk is TWS's master API client, as a workstation should be: it sees the
            # orders typed into TWS (below) and those of other API clients.
            master_client_id=settings.connection.client_id,
        )
    )
    try:
        sim.start()
    except RuntimeError as exc:  # the thread could not listen: say which port, not a traceback
        raise OSError(str(exc)) from exc
    _demo_orders(sim)
    logging.getLogger("ibdesk.demo").info("demo: %s", where(sim))
    connection = dataclasses.replace(
        settings.connection, host="127.0.0.1", port=sim.port, profile=""
    )
    watchlist = settings.watchlist
    if watchlist == config.WatchlistSettings():
        watchlist = config.WatchlistSettings(DEMO_WATCHLIST)
    restart = settings.restart
    if restart == config.RestartSettings():
        # The simulator does not restart at night: the default schedule would pause the
        # demo's strategies for a restart that never comes. A [restart] in the config stands.
        restart = config.RestartSettings(daily_at="")
    return sim, dataclasses.replace(
        settings, connection=connection, watchlist=watchlist, restart=restart
    )


def where(sim: SimThread) -> str:
    """Where the demo's simulator listens, for the terminal: its API address, which any TWS
    API client may join, and its JSON-lines control port (README: The control port)."""
    return f"simulated TWS on 127.0.0.1:{sim.port}, control port 127.0.0.1:{sim.control_port}"


def _demo_orders(sim: SimThread) -> None:
    """Something on the default ES chart: a long ES position with its stop and its target,
    entered as if by hand in TWS before ibdesk started."""
    last = float(sim.control.quote("ES")["last"])
    sim.control.enter_manual_order("ES", "BUY", 1, "MKT")
    sim.control.enter_manual_order("ES", "SELL", 1, "STP", stop=round(last) - 5)
    sim.control.enter_manual_order("ES", "SELL", 1, "LMT", price=round(last) + 8)
