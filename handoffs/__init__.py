"""The handoff graph and policy: allowed edges, preconditions, carried context, loop guard,
audit, escalation."""

from .audit import AuditLog
from .context import BRIEF_PREFIX, CONTEXT_POLICY, carried_context, mask_sensitive
from .engine import HandoffPlan, audit_log, decide_handoff, save_checkpoint
from .escalation import (
    CallbackEscalation,
    EscalationResult,
    HumanEscalation,
    SipTransferEscalation,
)
from .graph import (
    BALANCE,
    CARD_SECURITY,
    DISPLAY_NAMES,
    EDGES,
    GREETER,
    HUMAN,
    SPECIALISTS,
    TRANSACTIONS,
    is_allowed,
    transfer_tool_name,
)
from .policy import Decision, Fallback, Rejection, decide
from .transaction import (
    CONTINUING,
    HandoffRequest,
    HandoffResult,
    Moved,
    NotMoved,
    ToPerson,
    continuation,
    transfer,
)

__all__ = [
    "BALANCE",
    "BRIEF_PREFIX",
    "CARD_SECURITY",
    "CONTEXT_POLICY",
    "CONTINUING",
    "DISPLAY_NAMES",
    "EDGES",
    "GREETER",
    "HUMAN",
    "SPECIALISTS",
    "TRANSACTIONS",
    "AuditLog",
    "CallbackEscalation",
    "Decision",
    "EscalationResult",
    "Fallback",
    "HandoffPlan",
    "HandoffRequest",
    "HandoffResult",
    "HumanEscalation",
    "Moved",
    "NotMoved",
    "Rejection",
    "SipTransferEscalation",
    "ToPerson",
    "audit_log",
    "carried_context",
    "continuation",
    "decide",
    "decide_handoff",
    "is_allowed",
    "mask_sensitive",
    "save_checkpoint",
    "transfer",
    "transfer_tool_name",
]
