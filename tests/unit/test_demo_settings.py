"""What the demo changes in the settings it connects with."""

from __future__ import annotations

import dataclasses

from ibdesk import config
from ibdesk.demo import start_demo


def test_the_demo_expects_no_nightly_restart_unless_the_config_sets_one() -> None:
    # The demo's simulator never restarts by itself: the default 23:45 ET schedule would
    # pause a demo's strategies for a restart that does not come.
    sim, settings = start_demo(config.Settings(restart=config.RestartSettings()), None)
    try:
        assert settings.restart.schedule().daily_at is None
        assert settings.connection.port == sim.port
    finally:
        sim.stop()
    chosen = config.RestartSettings(daily_at="02:00", time_zone="Europe/London")
    sim, settings = start_demo(dataclasses.replace(config.Settings(), restart=chosen), None)
    try:
        assert settings.restart == chosen
    finally:
        sim.stop()
