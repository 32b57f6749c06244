"""Config validation: every problem named with its key, unknown keys suggested."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibdesk import config
from ibdesk.config import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_when_the_default_file_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(config, "default_path", lambda: tmp_path / "absent.toml")
    assert config.load() == config.Settings()


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        config.load(tmp_path / "absent.toml")


def test_a_valid_file(tmp_path: Path) -> None:
    settings = config.load(
        write(
            tmp_path,
            """
[connection]
host = "10.0.0.5"
port = 4002
client_id = 7
[ui]
theme = "light"
stale_after = 5
[watchlist]
symbols = ["ES", "AAPL"]
""",
        )
    )
    assert settings.connection.host == "10.0.0.5"
    assert settings.connection.port == 4002
    assert settings.ui.theme == "light"
    assert settings.ui.stale_after == 5.0
    assert settings.watchlist.symbols == ("ES", "AAPL")


def test_a_profile_sets_the_port_unless_the_port_is_given(tmp_path: Path) -> None:
    assert (
        config.load(write(tmp_path, '[connection]\nprofile = "gateway-paper"\n')).connection.port
        == 4002
    )
    assert (
        config.load(
            write(tmp_path, '[connection]\nprofile = "gateway-paper"\nport = 4100\n')
        ).connection.port
        == 4100
    )


def test_every_problem_is_reported_with_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(
            write(
                tmp_path,
                """
[connection]
port = "abc"
client_id = -1
prot = 7497
read_only = "yes"
[ui]
theme = "purple"
[colours]
x = 1
""",
            )
        )
    problems = caught.value.problems
    assert "[connection] port: must be an integer from 1 to 65535, got 'abc'" in problems
    assert any(p.startswith("[connection] client_id: must be an integer") for p in problems)
    assert "[connection] unknown key 'prot' (did you mean 'port'?)" in problems
    assert any("read_only: must be true or false" in p for p in problems)
    assert any("theme: must be one of 'dark', 'light', got 'purple'" in p for p in problems)
    assert any(p.startswith("unknown section [colours]") for p in problems)
    assert len(problems) == 6


def test_not_toml_at_all(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(write(tmp_path, "[connection\nport=1"))


def test_command_line_overrides_are_validated_too() -> None:
    settings = config.with_overrides(config.Settings(), port=4001, client_id=None)
    assert settings.connection.port == 4001
    assert settings.connection.client_id == 1
    with pytest.raises(ConfigError, match="--port: must be an integer from 1 to 65535"):
        config.with_overrides(config.Settings(), port=70000)


def test_the_readme_config_example_loads(tmp_path: Path) -> None:
    """The example in README.md is a valid config, so a trader can start from it."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    settings = config.load(write(tmp_path, example))
    assert settings.risk.max_order_qty["ES"] == 5.0
    assert settings.risk.max_position["*STK"] == 5000.0
    assert settings.risk.watchdog_halt_after == 1.5
    assert settings.connection.silence_after == 5.0
    assert settings.restart.daily_at == "23:45"
    assert settings.restart.time_zone == "America/New_York"


def test_the_data_silence_watchdog_is_configured_in_the_connection_section(
    tmp_path: Path,
) -> None:
    defaults = config.Settings().connection
    assert (defaults.silence_after, defaults.answer_within) == (5.0, 5.0)
    settings = config.load(
        write(tmp_path, "[connection]\nsilence_after = 2\nanswer_within = 1.5\n")
    )
    assert (settings.connection.silence_after, settings.connection.answer_within) == (2.0, 1.5)
    with pytest.raises(ConfigError, match=r"\[connection\] silence_after: must be a number"):
        config.load(write(tmp_path, "[connection]\nsilence_after = 0\n"))


def test_a_limit_table_without_a_star_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r'\[risk\] max_position: needs a "\*" entry'):
        config.load(write(tmp_path, "[risk]\nmax_position = { ES = 5 }\n"))


def test_saved_templates_keep_the_rest_of_the_file(tmp_path: Path) -> None:
    """The template dialog writes [ticket.templates] and nothing else changes, comments kept."""
    path = tmp_path / "config.toml"
    path.write_text("# mine\n[risk]\ncollar_pct = 3.0  # tight\n", encoding="utf-8")
    templates = {**config.DEFAULT_TEMPLATES, "ES": config.BracketTemplate(2, 10, 5, "ticks")}
    config.save_templates(path, templates)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# mine\n[risk]\ncollar_pct = 3.0  # tight\n")
    loaded = config.load(path)
    assert loaded.ticket.templates["ES"] == config.BracketTemplate(2, 10, 5, "ticks")
    assert loaded.ticket.templates["CL"] == config.DEFAULT_TEMPLATES["CL"]
    assert loaded.risk.collar_pct == 3.0 and loaded.path == path
    with pytest.raises(config.ConfigError, match="above 0"):
        config.from_mapping({"ticket": {"templates": {"ES": {"stop_loss": 0}}}})


def test_the_time_zone_choice_is_exchange_or_local(tmp_path: Path) -> None:
    assert config.Settings().ui.time_zone == "exchange"  # futures traders read exchange time
    path = tmp_path / "c.toml"
    path.write_text('[ui]\ntime_zone = "local"\n')
    assert config.load(path).ui.time_zone == "local"
    path.write_text('[ui]\ntime_zone = "UTC"\n')
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert err.value.problems == ["[ui] time_zone: must be one of 'exchange', 'local', got 'UTC'"]


def test_a_saved_setting_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '# my desk\n[connection]\nport = 4002  # gateway paper\n\n[ui]\ntheme = "light"\n'
    )
    config.save_setting(path, "ui", "time_zone", "local")
    text = path.read_text()
    assert "# my desk" in text and "port = 4002  # gateway paper" in text
    loaded = config.load(path)
    assert loaded.ui.time_zone == "local" and loaded.ui.theme == "light"
    assert loaded.connection.port == 4002
    with pytest.raises(config.ConfigError):
        config.save_setting(path, "ui", "time_zone", "mars")  # never writes a bad file
    assert config.load(path).ui.time_zone == "local"
    fresh = tmp_path / "new" / "c.toml"
    config.save_setting(fresh, "ui", "time_zone", "local")
    assert config.load(fresh).ui.time_zone == "local"


def test_the_restart_schedule_defaults_to_ib_s_nightly_restart_and_weekly_login() -> None:
    import datetime as dt

    restart = config.RestartSettings()  # (the suite turns the default off: tests/conftest.py)
    assert (restart.daily_at, restart.time_zone) == ("23:45", "America/New_York")
    assert (restart.pause_before_minutes, restart.window_minutes) == (5.0, 15.0)
    assert restart.weekly_relogin == "Sun 01:00" and restart.resume_headless
    schedule = restart.schedule()
    assert schedule.daily_at == dt.time(23, 45)
    assert (schedule.pause_before, schedule.window) == (300.0, 900.0)
    assert schedule.relogin == (6, dt.time(1, 0))


def test_the_restart_schedule_takes_seconds_and_fractions_of_minutes(tmp_path: Path) -> None:
    settings = config.load(
        write(
            tmp_path,
            '[restart]\ndaily_at = "07:05:30"\ntime_zone = "UTC"\n'
            'pause_before_minutes = 0.5\nwindow_minutes = 1.5\nweekly_relogin = ""\n'
            "resume_headless = false\n",
        )
    )
    schedule = settings.restart.schedule()
    assert (schedule.pause_before, schedule.window, schedule.relogin) == (30.0, 90.0, None)
    assert not settings.restart.resume_headless
    assert config.from_mapping({"restart": {"daily_at": ""}}).restart.schedule().daily_at is None


def test_bad_restart_settings_name_their_key(tmp_path: Path) -> None:
    text = (
        '[restart]\ndaily_at = "11:45 PM"\ntime_zone = "Eastern"\n'
        'weekly_relogin = "Sunday"\npause_before_minutes = -1\nresume_headless = "yes"\n'
    )
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, text))
    problems = "\n".join(caught.value.problems)
    assert '[restart] daily_at: must be a time of day HH:MM (24-hour), e.g. "23:45"' in problems
    assert "[restart] time_zone: must be a time zone name" in problems
    assert '[restart] weekly_relogin: must be a weekday and a time, e.g. "Sun 01:00"' in problems
    assert "[restart] pause_before_minutes: must be a number from 0 to 720" in problems
    assert "[restart] resume_headless: must be true or false" in problems
    with pytest.raises(ConfigError, match="pause_before_minutes \\+ window_minutes: must be"):
        config.from_mapping({"restart": {"pause_before_minutes": 720, "window_minutes": 720}})
