"""Reading strategy files: the classes a file defines, and parameters checked against them."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ibdesk.strategies.base import Strategy


class StrategyError(Exception):
    """A strategy cannot be loaded, started or changed; the message says why, in words."""


#: The shortest timer period a strategy may ask for, in seconds: shorter would call its
#: ``on_timer`` in a busy loop on the desk's one event loop (quotes are for fast reactions).
MIN_TIMER = 0.05


def load_file(path: Path) -> list[type[Strategy]]:
    """The Strategy classes a file defines (its own, not those it imports), executed afresh
    on every call so that a reload picks up an edit.

    Raises:
        StrategyError: no such file, an error while executing it, or no strategy in it.
    """
    if not path.is_file():
        raise StrategyError(f"No strategy file at {path}.")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    module_name = f"ibdesk_strategy_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise StrategyError(f"{path.name} is not a Python file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        raise StrategyError(f"{path.name}:{exc.lineno}: {exc.msg}") from exc
    except Exception as exc:
        sys.modules.pop(module_name, None)
        line = _line_in(path, exc)
        raise StrategyError(
            f"{path.name}{line} failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    classes = [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Strategy) and obj is not Strategy and obj.__module__ == module_name
    ]
    if not classes:
        raise StrategyError(f"{path.name} defines no class deriving from Strategy.")
    names = [cls.id() for cls in classes]
    if len(set(names)) != len(names):
        raise StrategyError(f"{path.name} defines two strategies with one name.")
    for cls in classes:
        if not cls.instruments:
            raise StrategyError(f"{cls.id()} names no instruments.")
        timer = cls.timer
        if timer is not None and (
            isinstance(timer, bool)
            or not isinstance(timer, int | float)
            or not timer >= MIN_TIMER  # NaN too
        ):
            raise StrategyError(
                f"{cls.id()}.timer must be a number of seconds, at least {MIN_TIMER:g} "
                f"(or None for no timer), not {timer!r}."
            )
    return classes


def _line_in(path: Path, exc: BaseException) -> str:
    """``:N``, the line of ``path`` the exception came from (the last one in its traceback)."""
    found = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == path:
            found = f":{frame.lineno}"
    return found


def typed_params(cls: type[Strategy], values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values converted to their defaults' types (text as typed in a panel or on
    the command line is converted too).

    Raises:
        StrategyError: an unknown name, or a value that is not of the default's type.
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in cls.params:
            known = ", ".join(cls.params) or "none"
            raise StrategyError(f"{cls.id()} has no parameter {key!r} (it has: {known}).")
        out[key] = _convert(key, cls.params[key], value)
    return out


def _convert(key: str, default: Any, value: Any) -> Any:
    kind = type(default)
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
                    raise ValueError(text)
                return text.lower() in ("true", "yes", "1")
            return kind(text)
        except (TypeError, ValueError):
            raise StrategyError(
                f"{key} must be {kind.__name__} like its default {default!r}, got {value!r}."
            ) from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not kind:
        raise StrategyError(
            f"{key} must be {kind.__name__} like its default {default!r}, got {value!r}."
        )
    return value


def parse_params(items: Sequence[str], names: Sequence[str]) -> dict[str, dict[str, str]]:
    """``NAME.key=value`` arguments (``key=value`` when one strategy is loaded) by strategy;
    the values stay text for :func:`typed_params` to convert.

    Raises:
        StrategyError: not ``key=value``, or a strategy that is not loaded.
    """
    out: dict[str, dict[str, str]] = {}
    for item in items:
        target, sep, value = item.partition("=")
        if not sep or not target:
            raise StrategyError(f"--param {item!r}: write NAME.key=value (or key=value).")
        name, dot, key = target.rpartition(".")
        if not dot:
            if len(names) != 1:
                raise StrategyError(
                    f"--param {item!r}: say which strategy, as NAME.{target}=... "
                    f"(loaded: {', '.join(names)})."
                )
            name, key = names[0], target
        if name not in names:
            raise StrategyError(f"--param {item!r}: no strategy {name!r} is loaded.")
        out.setdefault(name, {})[key] = value
    return out


def strategy_path(text: str) -> Path:
    """The file of ``--strategy TEXT``: a path, or the name of a shipped example.

    Raises:
        StrategyError: neither.
    """
    from ibdesk.strategies import examples

    path = Path(text).expanduser()
    if path.is_file():
        return path.resolve()
    example = examples.path_of(text) if len(path.parts) == 1 else None
    if example is None:
        raise StrategyError(
            f"--strategy {text}: no such file, and no shipped example of that name "
            f"({', '.join(examples.names())})."
        )
    return example.resolve()


def checked_strategies(
    texts: Sequence[str], params: Sequence[str]
) -> tuple[tuple[Path, ...], dict[str, dict[str, Any]]]:
    """The files of ``--strategy`` and the typed values of ``--param``, each file loaded
    once to check it before anything starts (a desk loads it again for real).

    Raises:
        StrategyError: no such file or example, a file that does not load or defines no
            strategy, two strategies with one name, or a parameter that is malformed,
            unknown or mistyped.
    """
    paths: list[Path] = []
    classes: dict[str, tuple[type[Strategy], Path]] = {}
    for text in texts:
        path = strategy_path(text)
        if path in paths:
            continue
        for cls in load_file(path):
            known = classes.get(cls.id())
            if known is not None:
                raise StrategyError(
                    f"{path.name} and {known[1].name} both define a strategy named {cls.id()}."
                )
            classes[cls.id()] = (cls, path)
        paths.append(path)
    typed = {
        name: typed_params(classes[name][0], values)
        for name, values in parse_params(params, list(classes)).items()
    }
    return tuple(paths), typed
