"""The checkpoint is scrubbed of the call's PIN in every free-text field, but the typed facts
the database supplied and our own timestamps are data, not words: scrubbing them corrupted a
resume (a call verified at 12:34 with PIN 1234 came back with a mangled principal)."""

from __future__ import annotations

from shared_state import Assurance, SessionState
from shared_state.state import HandoffBrief, Principal


def test_pin_forms_in_data_fields_survive_the_checkpoint() -> None:
    state = SessionState(channel="app")
    state.pins.add("1234")
    principal = Principal(
        customer_id=7,
        customer_number="912345",  # contains the PIN's digits
        first_name="Alice",
        assurance=Assurance.PIN,
        verified_at="2026-12-03T12:34:55+00:00",  # 12:34 reads as the PIN said aloud
    )
    state._bind_principal(principal)
    state.brief = HandoffBrief(from_agent="greeter", open_question="caller said 1 2 3 4")

    saved = state.to_checkpoint()
    restored = SessionState.from_checkpoint(saved, db=None)

    assert restored.principal == principal
    assert "1 2 3 4" not in str(saved["brief"])  # model and caller text is still scrubbed
