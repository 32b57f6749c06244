"""What a trader types into the ticket, read strictly: a number, or a message saying which
way it is wrong (a decimal comma, ``nan``, nothing at all), never a silent zero."""

from __future__ import annotations

import math


class FieldError(ValueError):
    """A field's value is wrong; the message is for the trader."""


def parse_number(text: str, what: str) -> float:
    """A number as typed: ``6800.25``, ``1e2``; a decimal comma, ``nan``, ``inf`` or nothing
    raise FieldError with a message that says which."""
    cleaned = text.strip().replace("_", "")
    if not cleaned:
        raise FieldError(f"Enter the {what}.")
    if "," in cleaned:
        raise FieldError(
            f"Use a point for decimals: {cleaned.replace(',', '.')}, not {cleaned} "
            "(and no thousands separators)."
        )
    try:
        value = float(cleaned)
    except ValueError:
        raise FieldError(f"The {what} must be a number, not {text.strip()!r}.") from None
    if not math.isfinite(value):
        raise FieldError(f"The {what} must be a finite number, not {text.strip()!r}.")
    return value
