"""The typed state every agent of one call shares."""

from .state import (
    Assurance,
    CallerHints,
    Channel,
    HandoffBrief,
    HandoffRecord,
    Intent,
    Need,
    PendingConfirmation,
    Principal,
    SessionState,
    SuspectTransaction,
    now_iso,
)

__all__ = [
    "Assurance",
    "CallerHints",
    "Channel",
    "HandoffBrief",
    "HandoffRecord",
    "Intent",
    "Need",
    "PendingConfirmation",
    "Principal",
    "SessionState",
    "SuspectTransaction",
    "now_iso",
]
