"""The phone channel end to end: a participant of kind SIP carrying `sip.phoneNumber`
(minted with the API key, as LiveKit SIP creates it) keys the PIN with `publish_dtmf`. The
keypad verification binds the caller in code; the digits never reach the model, a log, the
checkpoint or the audit trail."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import asyncpg
from e2e_stack import Stack

from local_stack import AgentWorker
from local_stack.caller import Caller, dispatch_token

CHLOE_PHONE = "+14155550103"
CHLOE_PIN = "2468"
DTMF_CODES = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


async def test_sip_caller_verifies_by_keypad(stack: Stack, agent_worker: AgentWorker) -> None:
    room = f"call-{uuid.uuid4()}"
    token = dispatch_token(
        stack.livekit.api_key,
        stack.livekit.api_secret,
        room=room,
        identity=f"sip_{uuid.uuid4().hex[:8]}",
        kind="sip",
        attributes={"sip.phoneNumber": CHLOE_PHONE, "sip.callStatus": "active"},
    )
    caller = await Caller.join(stack.livekit.url, token)
    try:
        await caller.wait_for_agent()
        await caller.expect(r"key in your PIN")
        mark = await caller.say("I'd like to hear my recent transactions")
        # A phone caller whose number matched is asked for the keypad, not to say the PIN.
        await caller.expect(r"key in your PIN", after=mark)
        for key in f"{CHLOE_PIN}#":
            await caller.room.local_participant.publish_dtmf(code=DTMF_CODES[key], digit=key)
        await caller.expect_desk("transactions")
        await caller.expect(r"\$\d", after=mark)
        await caller.quiet()
        stored = await _stored_call(stack.dsn, room)
    finally:
        await caller.hang_up()

    transcript = " ".join(line.text for line in caller.lines)
    assert CHLOE_PIN not in transcript
    assert CHLOE_PIN not in agent_worker.log_text()
    assert stored["principal"]["assurance"] == "pin"
    assert stored["principal"]["customer_id"] == stored["chloe_id"]
    assert "transactions" in stored["audited_desks"]
    assert CHLOE_PIN not in stored["raw"]


async def _stored_call(dsn: str, room: str) -> dict[str, Any]:
    """The call as the database holds it mid-call: checkpoint and handoff audit rows."""
    conn = await asyncpg.connect(dsn)
    try:
        checkpoint = await conn.fetchrow(
            "SELECT session_id, state::text AS state FROM session_checkpoints WHERE room_name = $1",
            room,
        )
        assert checkpoint is not None, "keypad verification saved no checkpoint"
        audit = await conn.fetch(
            "SELECT to_jsonb(a)::text AS row, to_agent FROM handoff_audit a WHERE session_id = $1",
            checkpoint["session_id"],
        )
        chloe_id = await conn.fetchval(
            "SELECT id FROM customers WHERE phone_e164 = $1", CHLOE_PHONE
        )
    finally:
        await conn.close()
    state = json.loads(checkpoint["state"])
    return {
        "principal": state.get("principal") or {},
        "chloe_id": chloe_id,
        "audited_desks": {row["to_agent"] for row in audit},
        "raw": checkpoint["state"] + " ".join(row["row"] for row in audit),
    }


async def test_warm_transfer_dials_the_colleague_and_falls_back_to_the_agent(
    private_stack: Stack,
) -> None:
    """HUMAN_TRANSFER_MODE=warm through a real livekit-server. This server has no SIP
    service (LiveKit SIP needs Redis and its own process), so the dial itself fails, after
    the agent has put the caller on hold, opened the consultation room and sent
    CreateSIPParticipant: the request is checked in livekit-server's own API log (trunk from
    LIVEKIT_SIP_OUTBOUND_TRUNK, the number from HUMAN_TRANSFER_TO, the consultation room).
    Then the fallback: the caller stays with the agent, verified, is told so with the case
    number, and the call goes on."""
    worker = private_stack.worker(
        "warm-transfer-worker",
        HUMAN_TRANSFER_MODE="warm",
        HUMAN_TRANSFER_TO="+15550009999",
        LIVEKIT_SIP_OUTBOUND_TRUNK="ST_e2e_outbound",
    ).start()
    room = f"call-{uuid.uuid4()}"
    token = dispatch_token(
        private_stack.livekit.api_key,
        private_stack.livekit.api_secret,
        room=room,
        identity=f"sip_{uuid.uuid4().hex[:8]}",
        kind="sip",
        attributes={"sip.phoneNumber": CHLOE_PHONE, "sip.callStatus": "active"},
    )
    caller = await Caller.join(private_stack.livekit.url, token)
    try:
        await caller.wait_for_agent()
        await caller.expect(r"key in your PIN")
        for key in f"{CHLOE_PIN}#":
            await caller.room.local_participant.publish_dtmf(code=DTMF_CODES[key], digit=key)
        await caller.expect(r"How can I help")  # verified by keypad
        mark = await caller.say("I'd like to talk to a person please")
        await caller.expect(r"hold while I connect you", after=mark)
        failed = await caller.expect(r"couldn't reach a colleague", after=mark, within=90)
        case_number = re.search(r"case number is (\d+)", failed.text)
        assert case_number is not None, failed.text
        mark = await caller.say("what's my balance?")
        await caller.expect(r"available balance", after=mark)  # still verified, same call
        await caller.quiet()
    finally:
        await caller.hang_up()
        worker.stop()

    log = (private_stack.logs / "livekit-server.log").read_text()
    sent = [ln for ln in log.splitlines() if "API SIP.CreateSIPParticipant" in ln]
    assert len(sent) == 1, sent
    assert f'"room": "{room}-human-agent"' in sent[0]
    assert '"trunkID": "ST_e2e_outbound"' in sent[0] and "+15550009999" in sent[0]
    conn = await asyncpg.connect(private_stack.dsn)
    try:
        case = await conn.fetchrow(
            "SELECT c.kind, c.status FROM cases c JOIN customers u ON u.id = c.customer_id "
            "WHERE c.id = $1 AND u.phone_e164 = $2",
            int(case_number.group(1)),
            CHLOE_PHONE,
        )
    finally:
        await conn.close()
    assert case is not None and (case["kind"], case["status"]) == ("callback", "open")
    transcript = " ".join(line.text for line in caller.lines)
    assert CHLOE_PIN not in transcript and CHLOE_PIN not in worker.log_text()
