"""The config's [alerts] section: routes by kind, push URLs kept secret, and a config file
that others can read is never trusted with them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ibdesk import config, events
from ibdesk.alerts.desk import DeskAlerts
from ibdesk.alerts.kinds import default_routes, routes_from
from ibdesk.config import AlertSettings, ConfigError
from ibdesk.state.link import LinkStore
from ibdesk.state.orders import OrderStore

SECRET_URL = "ntfy://ntfy.sh/my-very-secret-topic"

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


class Switch:
    def __init__(self) -> None:
        self.changed = events.new("tradingStateChanged")
        self.reported = events.new("killReported")


def test_the_alerts_section(tmp_path: Path) -> None:
    settings = config.load(
        write(
            tmp_path,
            f"""
[alerts]
push = ["{SECRET_URL}", "json://localhost:8080/hook"]
disconnect_after = 45
group_seconds = 5
sound_player = "paplay --volume 40000"

[alerts.routes]
fill = ["desktop", "sound", "push"]
partial_fill = []
""",
        )
    ).alerts
    assert settings.push == (SECRET_URL, "json://localhost:8080/hook")
    assert settings.routes == {"fill": ("desktop", "sound", "push"), "partial_fill": ()}
    assert settings.disconnect_after == 45.0 and settings.group_seconds == 5.0
    assert config.Settings().alerts == AlertSettings()


def test_alert_problems_are_named_and_a_bad_url_is_not_repeated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(
            write(
                tmp_path,
                """
[alerts]
push = ["ntfy.sh/my-very-secret-topic"]
disconnect_after = 0
[alerts.routes]
fils = ["desktop"]
""",
            )
        )
    problems = caught.value.problems
    url = "[alerts] push: URL 1 is not a URL of the form scheme://... (e.g. ntfy://...)"
    assert url in problems
    assert "[alerts] routes: unknown alert kind 'fils' (did you mean 'fill'?)" in problems
    assert any(p.startswith("[alerts] disconnect_after: must be a number") for p in problems)
    assert "my-very-secret-topic" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"halt must be a list of channels \(desktop, push, "):
        config.load(write(tmp_path, '[alerts.routes]\nhalt = ["phone"]\n'))


@posix_only
def test_a_config_file_others_can_read_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "", mode=0o644)
    problem = config.secret_file_problem(path)
    assert "mode 0644" in problem and f"chmod 600 '{path}'" in problem
    path.chmod(0o600)
    assert config.secret_file_problem(path) == ""
    path.chmod(0o640)
    assert "mode 0640" in config.secret_file_problem(path)
    assert config.secret_file_problem(tmp_path / "absent.toml") == ""


@posix_only
async def test_push_stays_off_while_the_config_file_is_readable_by_others(tmp_path: Path) -> None:
    """ssh refuses a key file others can read; ibdesk refuses push URLs the same way, says so
    in a banner (without the URL), and keeps everything else running."""
    path = write(tmp_path, f'[alerts]\npush = ["{SECRET_URL}"]\n', mode=0o644)
    link = LinkStore()
    alerts = DeskAlerts(
        config.load(path).alerts, path, orders=OrderStore(), switch=Switch(), link=link
    )
    try:
        assert alerts.push is None
        notice = link.notices["alerts"]
        assert notice.text.startswith("Push alerts are off: ") and "chmod 600" in notice.text
        assert "secret-topic" not in notice.text
    finally:
        alerts.close()
    path.chmod(0o600)
    link = LinkStore()
    alerts = DeskAlerts(
        config.load(path).alerts, path, orders=OrderStore(), switch=Switch(), link=link
    )
    try:
        assert alerts.push is not None and alerts.push.labels == ("push 1 (ntfy)",)
        assert "alerts" not in link.notices
    finally:
        alerts.close()


def test_the_readme_shows_the_default_routes(tmp_path: Path) -> None:
    """The README's [alerts.routes] says "these are the defaults": it must stay true."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    alerts = config.load(write(tmp_path, example)).alerts
    shown = routes_from(alerts.routes)
    assert {k.value for k in shown} == {k.value for k in default_routes()}
    assert shown == default_routes()
    assert alerts.push and alerts.disconnect_after == AlertSettings().disconnect_after
