"""A logging filter that keeps PINs, card numbers and money figures out of log records.

livekit-agents logs conversation text at DEBUG under `lk.pii.*` keys (before our PIN
redaction runs), and exception messages can carry tool outputs. Records passing through the
loggers we install this on are scrubbed in place: `lk.pii.*` values are dropped, and digit
runs and amounts in the message and its arguments are masked."""

from __future__ import annotations

import logging
import re
from typing import Any

# Linear by construction (see handoffs/context.py): runs start only where none continues,
# words are bounded, and the text is bounded before it is scanned.
_DIGITS = re.compile(r"(?<![\w.])(?<!\d[\s-])\d(?:[\s-]?\d){3,}(?![\w])")
_MONEY = re.compile(
    r"\$\s?\d[\d,]*+(?:\.\d+)?|(?<![\d,])\b\d[\d,]*+(?:\.\d{1,2})?\s?(?:dollars?|cents?)\b",
    re.IGNORECASE,
)
_SPOKEN_MONEY = re.compile(r"\b(?:[a-z-]{1,24}\s+){0,12}(?:dollars?|cents?)\b", re.IGNORECASE)
MAX_SCRUB_CHARS = 20_000
_SAFE_KEYS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {
    "message",
    "asctime",
    "taskName",
}
_LOGGERS = ("livekit", "livekit.agents", "livekit.plugins", "bank", "asyncio", "")


def scrub(text: str) -> str:
    text = text[:MAX_SCRUB_CHARS]
    text = _MONEY.sub("[amount]", text)
    text = _SPOKEN_MONEY.sub("[amount]", text)
    return _DIGITS.sub("[digits]", text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub_value(v) for v in value)
    return value


class SensitiveDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        if record.args:
            record.args = _scrub_value(record.args)
        for key in list(vars(record)):
            if key in _SAFE_KEYS:
                continue
            if key.startswith("lk.pii"):
                setattr(record, key, "[redacted]")
            else:
                setattr(record, key, _scrub_value(getattr(record, key)))
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return True


_FILTER = SensitiveDataFilter()


def install_log_redaction() -> None:
    """Idempotent: attach the filter to every logger that can carry conversation data."""
    names = set(_LOGGERS) | {
        name for name in logging.root.manager.loggerDict if name.startswith(("livekit", "bank"))
    }
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
