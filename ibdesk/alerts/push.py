"""Push to a phone: the config's URLs through apprise (ntfy, Telegram, e-mail, Pushover, a
JSON webhook, ~190 services), on a thread of its own.

A push service can be slow, down or hanging; the desk must not notice. :meth:`PushService.send`
appends the message to a list under a lock and returns. One daemon thread sends, one message
at a time, with apprise's call deadline (``timeout``): a service that never answers costs that
thread ``timeout`` seconds per message, and whatever queued meanwhile is merged into a single
next message, so the backlog stays one message however long the outage. Results come back to
the event loop (:class:`PushReport`), for the log and the test dialog.

apprise is imported on that thread too: its import and plugin scan (~0.4 s) never delay the
window. The URLs never reach the log (ibdesk.alerts.redact).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ibdesk.alerts.message import Message, merge
from ibdesk.alerts.redact import Redactor, label, redact
from ibdesk.domain.alerts import Urgency

log = logging.getLogger("ibdesk.alerts.push")

PUSH_TIMEOUT = 10.0
""" seconds one message may take over every service together (apprise's call deadline) """


@dataclass(frozen=True, slots=True)
class ServiceResult:
    """One service's outcome for one message: ``sent``, ``failed`` or ``timed out``."""

    label: str
    outcome: str

    @property
    def ok(self) -> bool:
        """Whether the service took the message."""
        return self.outcome == "sent"


@dataclass(frozen=True, slots=True)
class PushReport:
    """What became of one message: each service's outcome, how long it took, and a problem
    that stopped it before any service was asked (no usable URL, apprise missing)."""

    results: tuple[ServiceResult, ...]
    elapsed: float
    problem: str = ""

    @property
    def ok(self) -> bool:
        """Every service took it."""
        return bool(self.results) and not self.problem and all(r.ok for r in self.results)


Done = Callable[[PushReport], None]


class PushService:
    """The push URLs and the thread that sends to them.

    Args:
        urls: apprise URLs, straight from the config.
        timeout: seconds one message may take over all services (apprise's call deadline).
        on_problem: called on the event loop with a sentence when a URL is refused.
    """

    def __init__(
        self,
        urls: Sequence[str],
        timeout: float = PUSH_TIMEOUT,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.urls = tuple(urls)
        self.labels = tuple(label(url, i) for i, url in enumerate(self.urls))
        self.timeout = timeout
        self.on_problem = on_problem
        self.redactor = Redactor(self.urls)
        self.sent = 0
        self.failed = 0
        self.busy_since: float | None = None
        """ monotonic time the message being sent was handed to apprise (None: idle) """
        self._pending: list[tuple[Message, Done | None, asyncio.AbstractEventLoop | None]] = []
        self._wake = threading.Condition()
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing being sent."""
        with self._wake:
            return not self._pending and self.busy_since is None

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start the sending thread (it loads apprise and the URLs first). ``loop`` gets the
        problems and reports (the running loop by default)."""
        if self._thread is not None:
            return
        self._loop = loop or _running_loop()
        self.redactor.install()
        self._thread = threading.Thread(target=self._run, name="ibdesk-alerts-push", daemon=True)
        self._thread.start()

    def send(self, message: Message, done: Done | None = None) -> None:
        """Queue a message; never blocks. ``done(report)`` is called on the sending loop once
        every service has answered or timed out (a message without ``done`` may be merged
        with others that queued behind a slow service)."""
        with self._wake:
            if self._closing:
                return
            self._pending.append((message, done, _running_loop() if done else None))
            self._wake.notify()

    def close(self, wait: float = 0.0) -> None:
        """Send what is queued, then stop the thread; waits at most ``wait`` seconds (a
        hanging service is left to its deadline on its daemon thread)."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(wait)
        self.redactor.uninstall()

    # ---- the sending thread -----------------------------------------------------------------

    def _run(self) -> None:
        services = self._load()
        while True:
            with self._wake:
                while not self._pending and not self._closing:
                    self._wake.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
                self.busy_since = time.monotonic()
            plain = [m for m, done, _ in batch if done is None]
            if plain:
                self._deliver(services, merge(plain), None, None)
            for message, done, loop in batch:
                if done is not None:
                    self._deliver(services, message, done, loop)
            self.busy_since = None

    def _load(self) -> Any:
        """apprise with every URL it accepts (tagged ``ibdesk<index>``); None without it."""
        try:
            import apprise
        except ImportError:
            self._tell("Push alerts are off: the apprise package is not installed.")
            return None
        services = apprise.Apprise()
        for i, url in enumerate(self.urls):
            # apprise splits tags at spaces and commas: a plain one per URL, for its result.
            if not services.add(url, tag=f"ibdesk{i}"):
                self._tell(
                    f"Push alerts: {self.labels[i]} in the config is not a URL apprise "
                    "understands (see apprise's wiki for the service's URL form)."
                )
        return services

    def _deliver(
        self,
        services: Any,
        message: Message,
        done: Done | None,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        started = time.monotonic()
        self.busy_since = started
        report = self._notify(services, message, started)
        self.sent += sum(r.ok for r in report.results)
        self.failed += sum(not r.ok for r in report.results) + bool(report.problem)
        if report.problem:
            log.warning("push alert not sent: %s", report.problem)
        for result in report.results:
            if not result.ok:
                log.warning("push alert %s: %s", result.label, result.outcome)
        if done is not None and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(done, report)

    def _notify(self, services: Any, message: Message, started: float) -> PushReport:
        if services is None or not len(services):
            return PushReport((), 0.0, "no push URL that apprise understands")
        import apprise

        kind = {
            Urgency.INFO: apprise.NotifyType.INFO,
            Urgency.GOOD: apprise.NotifyType.SUCCESS,
            Urgency.WARNING: apprise.NotifyType.WARNING,
            Urgency.CRITICAL: apprise.NotifyType.FAILURE,
        }[message.urgency]
        try:
            result = services.notify(
                body=message.body,
                title=message.title,
                notify_type=kind,
                body_format=apprise.NotifyFormat.TEXT,
                timeout=self.timeout,
            )
        except Exception as exc:  # apprise's own bug must not end the thread
            problem = redact(f"{type(exc).__name__}: {exc}", self.redactor.secrets)
            return PushReport((), time.monotonic() - started, problem)
        outcomes = {}
        for service in result:
            tags = [t for t in (service.tag or ()) if t.startswith("ibdesk")]
            status = getattr(service.status, "name", str(service.status))
            if tags:
                outcome = {"SUCCESS": "sent", "TIMEOUT": "timed out"}.get(status, "failed")
                outcomes[int(tags[0].removeprefix("ibdesk"))] = outcome
        results = tuple(ServiceResult(self.labels[i], o) for i, o in sorted(outcomes.items()))
        return PushReport(results, time.monotonic() - started)

    def _tell(self, text: str) -> None:
        log.warning("%s", text)
        loop, on_problem = self._loop, self.on_problem
        if loop is not None and on_problem is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(on_problem, text)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
