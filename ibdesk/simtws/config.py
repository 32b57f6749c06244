"""Settings of the simulated TWS."""

from __future__ import annotations

from dataclasses import dataclass, field

from ibdesk.simtws.engine import EngineConfig


@dataclass(slots=True)
class SimConfig:
    """Everything that shapes one simulated TWS.

    Attributes:
        host: where to listen; loopback unless told otherwise.
        port: the API port (0 picks a free one).
        control_port: the JSON-lines control port (None: no control port; 0: a free one).
        seed: fixes the price processes and the synthetic history.
        accounts: managed account codes; DU… makes them paper accounts.
        master_client_id: receives every client's order updates (None: no master).
        tick_interval: seconds between market updates (IB's snapshot cadence is 0.25).
        steps_per_tick: market steps per update, to reach high message rates for benchmarks.
        start_paused: the market does not move until resumed (or stepped).
        pacing: enforce IB's historical-data pacing with error 162.
        max_msg_rate: messages per second a client may send before error 100 (0: off).
        account_update_interval: seconds between unsolicited account/portfolio updates
            (IB sends them every 3 minutes; shorter keeps a demo alive).
        pnl_interval: seconds between reqPnL / reqPnLSingle updates (IB: about 1).
        max_version: highest server version to announce (157..176), for version tests.
        max_outbound_bytes: bytes queued for one client (not yet taken by its socket) before
            it is disconnected as a client that does not read. Market data is conflated long
            before (at a quarter of this), so only a client that stopped reading gets there.
        market_data_lines: streaming reqMktData lines, shared by every client as IB shares
            an account's lines (100 by default); one more is error 101.
        tick_by_tick_slots: simultaneous tick-by-tick subscriptions over all clients; one
            more is error 10190. IB sizes this like market depth, from the account's lines;
            default accounts have been measured at 5 and 6.
        inbound_log_bytes: memory the record of inbound requests may use (newest kept).
        starting_cash: cash in each account at start.
        positions: (symbol, quantity) held in the first account at start, bought at the
            starting price (a demo has something to show).
    """

    host: str = "127.0.0.1"
    port: int = 7497
    control_port: int | None = None
    seed: int = 1
    accounts: tuple[str, ...] = ("DU1234567",)
    master_client_id: int | None = None
    tick_interval: float = 0.25
    steps_per_tick: int = 1
    start_paused: bool = False
    pacing: bool = True
    max_msg_rate: int = 50
    account_update_interval: float = 3.0
    pnl_interval: float = 1.0
    max_version: int = 176
    max_outbound_bytes: int = 16 << 20
    market_data_lines: int = 100
    tick_by_tick_slots: int = 5
    inbound_log_bytes: int = 64 << 20
    starting_cash: float = 1_000_000.0
    positions: tuple[tuple[str, float], ...] = ()
    engine: EngineConfig = field(default_factory=EngineConfig)
