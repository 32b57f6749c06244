"""Settings: a TOML file in the user config folder, validated, with command-line overrides.

Every problem in the file is reported at once, each naming the key and what is wrong
(``[connection] port: must be an integer from 1 to 65535, got 'abc'``), and an unknown key
gets a "did you mean" suggestion. Nothing half-valid is ever used.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# tomllib, difflib and platformdirs are imported where a file is read, a key suggested or a
# folder named: a window started with settings in hand (run_desktop) paints its first frame
# without them, about 7 ms sooner.
from ibdesk.domain import restarts, times
from ibdesk.domain.alerts import AlertKind, Channel

APP_NAME = "ibdesk"

#: IB's default API ports.
PROFILES = {"tws-live": 7496, "tws-paper": 7497, "gateway-live": 4001, "gateway-paper": 4002}


class ConfigError(ValueError):
    """The config file (or a flag) is invalid; ``problems`` lists every issue found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _rule(
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] | None = None,
    doc: str = "",
    valid: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """A field's rule; ``valid`` tells what is wrong with a string value ("" when nothing)."""
    return {"lo": lo, "hi": hi, "choices": choices, "doc": doc, "valid": valid}


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Where TWS or IB Gateway listens, and who we are to it."""

    profile: str = field(
        default="",
        metadata=_rule(choices=("", *PROFILES), doc="preset port: " + ", ".join(PROFILES)),
    )
    host: str = "127.0.0.1"
    port: int = field(default=7497, metadata=_rule(lo=1, hi=65535))
    client_id: int = field(default=1, metadata=_rule(lo=0, hi=2**31 - 2))
    account: str = ""
    read_only: bool = False
    connect_timeout: float = field(default=10.0, metadata=_rule(lo=0.5, hi=120))
    auto_connect: bool = False
    # A live stream is never silent for long: ticks, and the round-trip probe every 5 s.
    silence_after: float = field(default=5.0, metadata=_rule(lo=0.5, hi=300))
    answer_within: float = field(default=5.0, metadata=_rule(lo=0.5, hi=120))


@dataclass(frozen=True, slots=True)
class UiSettings:
    """How the window looks and refreshes."""

    theme: str = field(default="dark", metadata=_rule(choices=("dark", "light")))
    # Futures traders read the exchange's clock; times of no instrument are always local.
    time_zone: str = field(default=times.EXCHANGE, metadata=_rule(choices=times.CHOICES))
    stale_after: float = field(default=10.0, metadata=_rule(lo=0.5, hi=3600))
    # 25 Hz keeps tick-to-screen under 50 ms; the models make a flush cheap enough for it.
    table_refresh_hz: float = field(default=25.0, metadata=_rule(lo=1, hi=60))


@dataclass(frozen=True, slots=True)
class WatchlistSettings:
    """What the watchlist starts with (the window remembers changes after that)."""

    symbols: tuple[str, ...] = ("ES", "NQ", "CL", "GC", "AAPL", "SPY", "EUR.USD")


@dataclass(frozen=True, slots=True)
class RiskSettings:
    """Pre-trade limits and the kill switch. A limit of 0 is off.

    Per-instrument limits are keyed by symbol root (``ES``, ``AAPL``, ``EUR.USD``), then by
    security type (``*FUT`` contracts, ``*STK`` shares, ``*CASH`` currency units), with ``*``
    for everything else: a contract and a share are not the same size of risk.
    """

    max_order_qty: Mapping[str, float] = field(
        default_factory=lambda: {"*FUT": 10.0, "*STK": 1_000.0, "*CASH": 1_000_000.0, "*": 10.0},
        metadata=_rule(lo=0, doc="per root"),
    )
    max_position: Mapping[str, float] = field(
        default_factory=lambda: {"*FUT": 20.0, "*STK": 5_000.0, "*CASH": 2_000_000.0, "*": 20.0},
        metadata=_rule(lo=0, doc="per root"),
    )
    max_order_notional: float = field(default=2_000_000.0, metadata=_rule(lo=0, hi=1e12))
    collar_pct: float = field(default=2.0, metadata=_rule(lo=0, hi=100))
    collar_ticks: float = field(default=0.0, metadata=_rule(lo=0, hi=100_000))
    max_open_orders: int = field(default=100, metadata=_rule(lo=0, hi=10_000))
    max_orders_per_minute: int = field(default=60, metadata=_rule(lo=0, hi=10_000))
    duplicate_window_ms: float = field(default=500.0, metadata=_rule(lo=0, hi=60_000))
    trading_hours_only: bool = False
    daily_loss_limit: float = field(default=0.0, metadata=_rule(lo=0, hi=1e12))
    flatten_on_daily_loss: bool = False
    flatten_style: str = field(default="market", metadata=_rule(choices=("market", "limit")))
    flatten_collar_ticks: float = field(default=4.0, metadata=_rule(lo=0, hi=10_000))
    kill_shortcut: str = "Ctrl+Shift+K"
    flatten_shortcut: str = "Ctrl+Shift+F"
    reduce_shortcut: str = "Ctrl+Shift+R"
    kill_client_id: int = field(
        default=0, metadata=_rule(lo=0, hi=2**31 - 2, doc="0: the main client id + 100")
    )
    watchdog_halt_after: float = field(default=1.5, metadata=_rule(lo=0, hi=60))
    kill_window: bool = False
    # The runaway breaker, per strategy: a breach halts that strategy only (0: off).
    strategy_orders_per_second: int = field(default=5, metadata=_rule(lo=0, hi=10_000))
    strategy_orders_per_minute: int = field(default=60, metadata=_rule(lo=0, hi=100_000))
    strategy_duplicate_ms: float = field(default=1_000.0, metadata=_rule(lo=0, hi=60_000))
    strategy_rejects_in_a_row: int = field(default=3, metadata=_rule(lo=0, hi=1_000))
    strategy_cancels_per_fill: float = field(default=20.0, metadata=_rule(lo=0, hi=1e6))


@dataclass(frozen=True, slots=True)
class BracketTemplate:
    """A bracket preset for a symbol root: quantity, and the take-profit and stop-loss
    offsets from the entry in ``unit`` (``ticks``, ``points`` or ``dollars`` per contract)."""

    qty: float = field(default=1.0, metadata=_rule(lo=0, hi=1e9))
    take_profit: float = field(default=8.0, metadata=_rule(lo=0, hi=1e9))
    stop_loss: float = field(default=6.0, metadata=_rule(lo=0, hi=1e9))
    unit: str = field(default="ticks", metadata=_rule(choices=("ticks", "points", "dollars")))


#: Templates a new desk starts with: ES +8/-6 ticks ($100 / $75 a contract), the same shape
#: for the other index futures; CL and GC in their own tick sizes; shares in dollars.
DEFAULT_TEMPLATES: Mapping[str, BracketTemplate] = {
    "ES": BracketTemplate(1, 8, 6),
    "MES": BracketTemplate(1, 8, 6),
    "NQ": BracketTemplate(1, 20, 12),
    "MNQ": BracketTemplate(1, 20, 12),
    "CL": BracketTemplate(1, 20, 12),
    "MCL": BracketTemplate(1, 20, 12),
    "GC": BracketTemplate(1, 20, 12),
    "MGC": BracketTemplate(1, 20, 12),
    "*STK": BracketTemplate(100, 1.0, 0.5, "points"),
    "*": BracketTemplate(1, 8, 6),
}


@dataclass(frozen=True, slots=True)
class TicketSettings:
    """The order ticket: confirmations, fat-finger thresholds, prices, templates."""

    confirm: str = field(default="live", metadata=_rule(choices=("live", "always", "never")))
    fat_finger_fraction: float = field(default=0.8, metadata=_rule(lo=0, hi=1))
    fat_finger_ticks: float = field(default=50.0, metadata=_rule(lo=0, hi=1e6))
    off_tick: str = field(default="refuse", metadata=_rule(choices=("refuse", "round")))
    roll_warning_days: int = field(default=5, metadata=_rule(lo=0, hi=365))
    buy_shortcut: str = "Ctrl+B"
    sell_shortcut: str = "Ctrl+S"
    templates: Mapping[str, BracketTemplate] = field(
        default_factory=lambda: dict(DEFAULT_TEMPLATES), metadata=_rule(doc="templates")
    )


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Alerts (ibdesk.alerts): what goes to the desktop, as a sound, and to a phone.

    ``push`` holds apprise URLs (``ntfy://ntfy.sh/my-topic``, ``tgram://bot-token/chat-id``,
    ``mailtos://user:password@example.com``, ``json://host:port/path``): secrets. ibdesk uses
    them only from a config file that no one else can read (mode 0600) and never writes them
    to the log or the journal. ``routes`` maps an alert kind to its channels (``desktop``,
    ``sound``, ``push``); a kind not named keeps its default.
    """

    push: tuple[str, ...] = field(default=(), metadata=_rule(doc="urls"))
    routes: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict, metadata=_rule(doc="routes")
    )
    disconnect_after: float = field(default=30.0, metadata=_rule(lo=1, hi=86_400))
    group_seconds: float = field(default=2.0, metadata=_rule(lo=0.1, hi=3_600))
    push_timeout: float = field(default=10.0, metadata=_rule(lo=1, hi=300))
    sound_player: str = field(default="", metadata=_rule(doc="empty: the platform's own"))


def limits_off(risk: RiskSettings | None = None) -> RiskSettings:
    """The same risk settings with every pre-trade limit off; the kill switch, the watchdog
    and the daily loss limit stay as they are. For replays and benchmarks that measure the
    order path itself, never a default."""
    return dataclasses.replace(
        risk or RiskSettings(),
        max_order_qty={},
        max_position={},
        max_order_notional=0.0,
        collar_pct=0.0,
        collar_ticks=0.0,
        max_open_orders=0,
        max_orders_per_minute=0,
        duplicate_window_ms=0.0,
        trading_hours_only=False,
    )


@dataclass(frozen=True, slots=True)
class StrategySettings:
    """The strategy runner: what starts by itself, and how long a callback may take."""

    autostart: tuple[str, ...] = field(
        default=(), metadata=_rule(doc="names of loaded strategies started at launch")
    )
    callback_budget_ms: float = field(default=50.0, metadata=_rule(lo=1, hi=60_000))


def _time_of_day_problem(text: str) -> str:
    if text == "":
        return ""
    try:
        restarts.parse_time_of_day(text)
    except ValueError:
        return f'must be a time of day HH:MM (24-hour), e.g. "23:45", or "" for none, got {text!r}'
    return ""


def _weekly_problem(text: str) -> str:
    if text == "":
        return ""
    try:
        restarts.parse_weekly(text)
    except ValueError:
        return f'must be a weekday and a time, e.g. "Sun 01:00", or "" for none, got {text!r}'
    return ""


def _zone_problem(text: str) -> str:
    if restarts.zone_known(text):
        return ""
    return f'must be a time zone name like "America/New_York", got {text!r}'


@dataclass(frozen=True, slots=True)
class RestartSettings:
    """TWS / IB Gateway's daily restart and IB's weekly re-login, which the desk expects.

    TWS restarts itself every day at the time set in it (*Configure > Lock and Exit > Auto
    restart*; IB's nightly reset window in North America is about 23:45-01:45 ET); IB's
    login expires once a week (Sunday 01:00 ET) and the next restart waits for a login.
    ``pause_before_minutes`` before the restart the strategies pause (their exits still
    pass); a disconnect within ``window_minutes`` of it is an expected restart, not an
    alarm. After the reconnect and the reconciliation ``ibdesk run`` resumes them by itself
    when ``resume_headless`` says so; the window always asks the trader.
    """

    daily_at: str = field(default="23:45", metadata=_rule(valid=_time_of_day_problem))
    time_zone: str = field(default="America/New_York", metadata=_rule(valid=_zone_problem))
    pause_before_minutes: float = field(default=5.0, metadata=_rule(lo=0, hi=720))
    window_minutes: float = field(default=15.0, metadata=_rule(lo=0.01, hi=720))
    weekly_relogin: str = field(default="Sun 01:00", metadata=_rule(valid=_weekly_problem))
    resume_headless: bool = True

    def schedule(self) -> restarts.RestartSchedule:
        """The schedule these settings describe (validated: it parses)."""
        return restarts.RestartSchedule(
            daily_at=restarts.parse_time_of_day(self.daily_at) if self.daily_at else None,
            zone=self.time_zone,
            pause_before=self.pause_before_minutes * 60.0,
            window=self.window_minutes * 60.0,
            relogin=restarts.parse_weekly(self.weekly_relogin) if self.weekly_relogin else None,
        )


@dataclass(frozen=True, slots=True)
class LogSettings:
    """The log file and panel.

    ``library`` is the debug switch: the client library's own records (a line for every
    portfolio row, order and position it receives) in the log file and the panel too. Off,
    the file keeps only its warnings and errors, and the panel shows ibdesk's own events.
    """

    library: bool = False


@dataclass(frozen=True, slots=True)
class RecordSettings:
    """The session tape (ibdesk.replay): on by default, within a size budget.

    ``folder`` empty: ``tapes`` beside the journal (the user data folder; the demo's own).
    """

    enabled: bool = True
    budget_mb: float = field(default=2048.0, metadata=_rule(lo=4, hi=10_000_000))
    folder: str = ""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, by section."""

    connection: ConnectionSettings = ConnectionSettings()
    ui: UiSettings = UiSettings()
    watchlist: WatchlistSettings = WatchlistSettings()
    risk: RiskSettings = RiskSettings()
    ticket: TicketSettings = TicketSettings()
    alerts: AlertSettings = AlertSettings()
    strategies: StrategySettings = StrategySettings()
    restart: RestartSettings = RestartSettings()
    log: LogSettings = LogSettings()
    record: RecordSettings = RecordSettings()
    path: Path | None = field(default=None, compare=False)
    """ the file these came from (None: defaults); the template dialog writes back to it """


def default_path() -> Path:
    """``config.toml`` in the user config folder (e.g. ~/.config/ibdesk on Linux)."""
    import platformdirs

    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def load(path: Path | None = None) -> Settings:
    """Read and validate a config file; a missing default file means defaults.

    Raises:
        ConfigError: the file is unreadable, not TOML, or has invalid or unknown keys.
    """
    explicit = path is not None
    path = path or default_path()
    if not path.exists():
        if explicit:
            raise ConfigError(str(path), ["no such file"])
        return Settings(path=path)
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read it: {exc}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from exc
    return dataclasses.replace(from_mapping(data, str(path)), path=path)


def from_mapping(data: Mapping[str, Any], source: str = "config") -> Settings:
    """Validate a parsed config; raises ConfigError listing every problem."""
    problems: list[str] = []
    sections = {f.name: f for f in dataclasses.fields(Settings) if f.name != "path"}
    built: dict[str, Any] = {}
    for name, value in data.items():
        if name not in sections:
            problems.append(f"unknown section [{name}]{_suggest(name, sections)}")
        elif not isinstance(value, Mapping):
            problems.append(f"[{name}] must be a table of settings")
        else:
            section_type = sections[name].type
            cls = {
                "ConnectionSettings": ConnectionSettings,
                "UiSettings": UiSettings,
                "WatchlistSettings": WatchlistSettings,
                "RiskSettings": RiskSettings,
                "TicketSettings": TicketSettings,
                "AlertSettings": AlertSettings,
                "StrategySettings": StrategySettings,
                "RestartSettings": RestartSettings,
                "LogSettings": LogSettings,
                "RecordSettings": RecordSettings,
            }[str(section_type)]
            built[name] = _section(cls, name, value, problems)
    restart = built.get("restart")
    if restart is not None and restart.pause_before_minutes + restart.window_minutes >= 1440:
        problems.append(
            "[restart] pause_before_minutes + window_minutes: must be under a day (1440), got "
            f"{restart.pause_before_minutes + restart.window_minutes:g}"
        )
    if problems:
        raise ConfigError(source, problems)
    settings = Settings(**built)
    conn = settings.connection
    if conn.profile and "port" not in data.get("connection", {}):
        settings = dataclasses.replace(
            settings, connection=dataclasses.replace(conn, port=PROFILES[conn.profile])
        )
    return settings


def _suggest(name: str, known: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _section(cls: type[Any], section: str, values: Mapping[str, Any], problems: list[str]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        f = fields.get(key)
        if f is None:
            problems.append(f"[{section}] unknown key {key!r}{_suggest(key, fields)}")
            continue
        checked = _check(f, value)
        if isinstance(checked, _Problem):
            problems.append(f"[{section}] {key}: {checked.text}")
        else:
            kwargs[key] = checked
    return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class _Problem:
    text: str


def _check(f: dataclasses.Field[Any], value: Any) -> Any:
    """The value converted to the field's type, or a _Problem saying what is wrong."""
    rule: Mapping[str, Any] = f.metadata or {}
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    shown = repr(value)
    if kind == "bool":
        return value if isinstance(value, bool) else _Problem(f"must be true or false, got {shown}")
    if kind in ("int", "float"):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (kind == "int" and not isinstance(value, int))
        ):
            noun = "an integer" if kind == "int" else "a number"
            return _Problem(f"must be {noun}{_range(rule)}, got {shown}")
        lo, hi = rule.get("lo"), rule.get("hi")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            noun = "an integer" if kind == "int" else "a number"
            return _Problem(f"must be {noun}{_range(rule)}, got {shown}")
        return float(value) if kind == "float" else value
    if kind == "str":
        if not isinstance(value, str):
            return _Problem(f"must be a string, got {shown}")
        choices = rule.get("choices")
        if choices and value not in choices:
            listed = ", ".join(repr(c) for c in choices if c)
            return _Problem(f"must be one of {listed}, got {shown}")
        valid = rule.get("valid")
        problem = valid(value) if valid is not None else ""
        return _Problem(problem) if problem else value
    if kind.startswith("Mapping") and rule.get("doc") == "templates":
        return _check_templates(value)
    if kind.startswith("Mapping") and rule.get("doc") == "routes":
        return _check_routes(value)
    if kind.startswith("tuple") and rule.get("doc") == "urls":
        return _check_urls(value)
    if kind.startswith("Mapping"):
        return _check_limits(rule, value)
    if kind.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return _Problem(f"must be a list of strings, got {shown}")
        return tuple(value)
    return _Problem(f"unsupported setting type {kind}")


def _check_limits(rule: Mapping[str, Any], value: Any) -> Any:
    """A table of per-root limits: ``{ES = 5, MES = 20, "*" = 10}``."""
    if not isinstance(value, Mapping) or not value:
        return _Problem(
            f'must be a table of limits by symbol root, e.g. {{ES = 5, "*" = 10}}, got {value!r}'
        )
    out: dict[str, float] = {}
    for key, limit in value.items():
        if isinstance(limit, bool) or not isinstance(limit, int | float) or limit < 0:
            return _Problem(f"the limit for {key!r} must be a number >= 0, got {limit!r}")
        out[str(key).upper()] = float(limit)
    if "*" not in out:
        return _Problem('needs a "*" entry: the limit for every other symbol')
    return out


def _check_templates(value: Any) -> Any:
    """Bracket templates by root: ``[ticket.templates.ES] qty = 1, take_profit = 8, ...``."""
    if not isinstance(value, Mapping):
        return _Problem(f"must be tables of templates by symbol root, got {value!r}")
    out: dict[str, BracketTemplate] = {}
    for root, table in value.items():
        if not isinstance(table, Mapping):
            return _Problem(f"the template for {root!r} must be a table, got {table!r}")
        problems: list[str] = []
        template = _section(BracketTemplate, f"templates.{root}", table, problems)
        if problems:
            return _Problem("; ".join(problems))
        if template.qty <= 0 or template.take_profit <= 0 or template.stop_loss <= 0:
            return _Problem(f"the template for {root!r} needs a quantity and offsets above 0")
        out[str(root).upper()] = template
    # The defaults stay for roots the file does not name.
    return {**DEFAULT_TEMPLATES, **out}


def _check_urls(value: Any) -> Any:
    """Push URLs: strings of the form ``scheme://...``. A problem names the URL by its
    position, never by its text: the text is a secret."""
    if not isinstance(value, list):
        return _Problem('must be a list of URLs, e.g. ["ntfy://ntfy.sh/your-topic"]')
    for i, url in enumerate(value, 1):
        if not isinstance(url, str) or "://" not in url or not url.partition("://")[0]:
            return _Problem(f"URL {i} is not a URL of the form scheme://... (e.g. ntfy://...)")
    return tuple(value)


def _check_routes(value: Any) -> Any:
    """Alert routes: ``{fill = ["desktop", "push"], halt = ["desktop", "sound", "push"]}``."""
    kinds = {k.value: k for k in AlertKind}
    channels = {c.value for c in Channel}
    if not isinstance(value, Mapping):
        return _Problem(
            f'must be a table by alert kind, e.g. {{fill = ["desktop"]}}, got {value!r}'
        )
    out: dict[str, tuple[str, ...]] = {}
    for key, listed in value.items():
        if key not in kinds:
            return _Problem(f"unknown alert kind {key!r}{_suggest(key, kinds)}")
        if not isinstance(listed, list) or any(c not in channels for c in listed):
            named = ", ".join(sorted(channels))
            return _Problem(f"{key} must be a list of channels ({named}), got {listed!r}")
        out[key] = tuple(listed)
    return out


def secret_file_problem(path: Path | None) -> str:
    """Why a file that holds secrets must not be trusted with them: readable or writable by
    others than its owner (POSIX mode bits). Empty when it is private, missing, or the system
    has no POSIX modes."""
    if path is None or os.name != "posix":
        return ""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return ""
    if not mode & 0o077:
        return ""
    return (
        f"{path} can be read by other users (mode {mode:04o}), and it holds push URLs, which "
        f"are secrets. Make it private with: chmod 600 '{path}'"
    )


def _range(rule: Mapping[str, Any]) -> str:
    lo, hi = rule.get("lo"), rule.get("hi")
    if lo is not None and hi is not None:
        return f" from {lo:g} to {hi:g}"
    return ""


COMMAND_LINE_FLAGS = ("host", "port", "client_id", "account", "read_only")
""" the connection flags ``ibdesk`` and ``ibdesk run`` both take """


def load_with_flags(args: Any) -> Settings:
    """The config file ``args.config`` names (or the default one), with the command line's
    connection flags (:data:`COMMAND_LINE_FLAGS`, attributes of ``args``) over it.

    Raises:
        ConfigError: the file or a flag is wrong (every problem named).
    """
    flags = {name: getattr(args, name) for name in COMMAND_LINE_FLAGS}
    return with_overrides(load(args.config), **flags)


def with_overrides(settings: Settings, **connection: Any) -> Settings:
    """Apply command-line overrides to the connection section (None means not given)."""
    given = {k: v for k, v in connection.items() if v is not None}
    if not given:
        return settings
    problems = []
    fields = {f.name: f for f in dataclasses.fields(ConnectionSettings)}
    for key, value in given.items():
        checked = _check(fields[key], value)
        if isinstance(checked, _Problem):
            problems.append(f"--{key.replace('_', '-')}: {checked.text}")
        else:
            given[key] = checked
    if problems:
        raise ConfigError("command line", problems)
    if "profile" in given and "port" not in given:
        given["port"] = PROFILES[given["profile"]]
    return dataclasses.replace(
        settings, connection=dataclasses.replace(settings.connection, **given)
    )


def save_templates(path: Path, templates: Mapping[str, BracketTemplate]) -> None:
    """Write ``[ticket.templates.*]`` into a config file, keeping everything else in it
    (comments included); the file is created if it does not exist. A template equal to the
    built-in default for its root is not written."""
    import tomlkit

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    doc = tomlkit.parse(text)
    ticket = doc.setdefault("ticket", tomlkit.table())
    table = tomlkit.table(is_super_table=True)
    for root, t in sorted(templates.items()):
        if DEFAULT_TEMPLATES.get(root) == t:
            continue
        entry = tomlkit.inline_table()
        entry.update(
            {"qty": t.qty, "take_profit": t.take_profit, "stop_loss": t.stop_loss, "unit": t.unit}
        )
        table[root] = entry
    if "templates" in ticket:
        del ticket["templates"]
    if table:
        ticket["templates"] = table
    from_mapping(tomlkit.parse(tomlkit.dumps(doc)).unwrap(), str(path))  # never write a bad file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")


def save_setting(path: Path, section: str, key: str, value: Any) -> None:
    """Write one setting (``[ui] time_zone``) into a config file, keeping everything else in
    it, comments included; the file is created if it does not exist.

    Raises:
        ConfigError: the file with the new value would not load (nothing is written).
    """
    import tomlkit

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    doc = tomlkit.parse(text)
    table = doc.setdefault(section, tomlkit.table())
    table[key] = value
    from_mapping(tomlkit.parse(tomlkit.dumps(doc)).unwrap(), str(path))  # never write a bad file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
