"""Push URLs are secrets: they never reach the log (nor the journal, which alerts never touch).

A push URL carries its credentials in every part: Telegram's bot token is the "host", an ntfy
topic is the path, e-mail has a password. apprise's own privacy mode hides only some of them
(an ntfy topic or a json:// path stays readable), and apprise and urllib3 log the URLs they
call at DEBUG and parts of them in warnings. So ibdesk names a service only by its number and
scheme (:func:`label`), and a filter on those libraries' loggers replaces every fragment of
every configured URL in a record before any handler sees it (:class:`Redactor`).
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Iterable, Sequence

MIN_FRAGMENT = 3
""" shorter parts of a URL (a port like 80, ``on``) are not worth hiding and would garble text """
MASK = "***"
LIBRARY_LOGGERS = (
    "apprise",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
)
""" the loggers that see push URLs (apprise logs everything on its one logger; a logger's
filter applies to its own records only, so each urllib3 module is named) """


def label(url: str, index: int) -> str:
    """How a push URL is named in the log and the window: ``push 2 (ntfy)``."""
    scheme = url.partition("://")[0] if "://" in url else "?"
    return f"push {index + 1} ({scheme})"


def fragments(urls: Iterable[str]) -> list[str]:
    """Every part of the URLs after the scheme that could be a secret, longest first (so a
    whole token is replaced before a piece of it), also percent-decoded."""
    found: set[str] = set()
    for url in urls:
        rest = url.partition("://")[2] if "://" in url else url
        for part in re.split(r"[/:@?&=#,;+\s]+", rest):
            for text in (part, urllib.parse.unquote(part)):
                if len(text) >= MIN_FRAGMENT:
                    found.add(text)
        if len(rest) >= MIN_FRAGMENT:
            found.add(rest)
    return sorted(found, key=len, reverse=True)


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret fragment replaced by ``***``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class Redactor(logging.Filter):
    """A logger filter that rewrites each record with the secrets replaced (the message with
    its arguments, and a traceback's text) before any handler sees it."""

    def __init__(self, urls: Iterable[str]) -> None:
        super().__init__("")
        self.secrets = fragments(urls)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            text += "\n" + record.exc_text
            record.exc_text = None
        record.msg, record.args = redact(text, self.secrets), None
        return True

    def install(self) -> None:
        """Filter the libraries' loggers."""
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).addFilter(self)

    def uninstall(self) -> None:
        """Stop filtering."""
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).removeFilter(self)
