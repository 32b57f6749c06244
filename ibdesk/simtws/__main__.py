"""``python -m ibdesk.simtws``: run the simulated TWS until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from ibdesk.simtws.config import SimConfig
from ibdesk.simtws.engine import EngineConfig
from ibdesk.simtws.runner import Simulator


def parse_args(argv: list[str] | None = None) -> SimConfig:
    """Command-line flags to a SimConfig."""
    p = argparse.ArgumentParser(
        prog="python -m ibdesk.simtws", description="A simulated TWS speaking the TWS API."
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: loopback only)"
    )
    p.add_argument("--port", type=int, default=7497, help="API port (0 = any free port)")
    p.add_argument(
        "--control-port",
        type=int,
        default=None,
        help="JSON-lines control port on 127.0.0.1 (0 = any free port)",
    )
    p.add_argument("--seed", type=int, default=1, help="fixes prices and history")
    p.add_argument(
        "--accounts",
        default="DU1234567",
        help="comma-separated account codes (DU... are paper accounts)",
    )
    p.add_argument(
        "--master-client-id",
        type=int,
        default=None,
        help="client id that receives every client's order updates",
    )
    p.add_argument(
        "--tick-interval-ms",
        type=float,
        default=250.0,
        help="milliseconds between market updates (IB: 250)",
    )
    p.add_argument(
        "--steps-per-tick",
        type=int,
        default=1,
        help="market steps per update, for high message rates",
    )
    p.add_argument("--paused", action="store_true", help="start with the market paused")
    p.add_argument(
        "--partial-fills",
        action="store_true",
        help="fills take at most the size shown at the touch",
    )
    p.add_argument(
        "--follow-hours",
        action="store_true",
        help="trade only in each contract's trading hours (default: around the clock)",
    )
    p.add_argument(
        "--no-pacing", action="store_true", help="do not enforce historical-data pacing (error 162)"
    )
    p.add_argument(
        "--max-msg-rate",
        type=int,
        default=50,
        help="client messages per second before error 100 (0 = no limit)",
    )
    p.add_argument(
        "--market-data-lines",
        type=int,
        default=100,
        help="streaming market-data lines over all clients before error 101 (IB: 100)",
    )
    p.add_argument(
        "--tick-by-tick-slots",
        type=int,
        default=5,
        help="tick-by-tick subscriptions over all clients before error 10190",
    )
    p.add_argument(
        "--max-outbound-mib",
        type=float,
        default=16.0,
        help="MiB queued for one client before it is dropped as not reading",
    )
    p.add_argument(
        "--server-version",
        type=int,
        default=176,
        help="highest server version to announce (157..176)",
    )
    p.add_argument("--log-level", default="INFO")
    a = p.parse_args(argv)
    if not 157 <= a.server_version <= 176:
        p.error("--server-version must be between 157 and 176")
    if a.market_data_lines < 0 or a.tick_by_tick_slots < 0 or a.max_outbound_mib <= 0:
        p.error("the limits must not be negative, and --max-outbound-mib must be > 0")
    if a.tick_interval_ms <= 0 or a.steps_per_tick < 1:
        p.error("--tick-interval-ms must be > 0 and --steps-per-tick >= 1")
    accounts = tuple(x.strip() for x in a.accounts.split(",") if x.strip())
    if not accounts:
        p.error("--accounts needs at least one account code")
    logging.basicConfig(
        level=a.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return SimConfig(
        host=a.host,
        port=a.port,
        control_port=a.control_port,
        seed=a.seed,
        accounts=accounts,
        master_client_id=a.master_client_id,
        tick_interval=a.tick_interval_ms / 1000,
        steps_per_tick=a.steps_per_tick,
        start_paused=a.paused,
        pacing=not a.no_pacing,
        max_msg_rate=a.max_msg_rate,
        max_version=a.server_version,
        market_data_lines=a.market_data_lines,
        tick_by_tick_slots=a.tick_by_tick_slots,
        max_outbound_bytes=int(a.max_outbound_mib * 2**20),
        engine=EngineConfig(partial_fills=a.partial_fills, follow_trading_hours=a.follow_hours),
    )


async def serve(config: SimConfig) -> None:
    """Run until SIGINT/SIGTERM."""
    sim = Simulator(config)
    port = await sim.start()
    where = f"simulated TWS listening on {config.host}:{port}"
    if sim.control_port is not None:
        where += f"; control on 127.0.0.1:{sim.control_port}"
    print(where, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    config = parse_args(argv)
    try:
        asyncio.run(serve(config))
    except OSError as exc:
        print(f"cannot listen: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
