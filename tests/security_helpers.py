"""Shared machinery for the reliability and security suite (tests/test_security_*.py,
tests/test_faults_*.py).

The hostile-case runner drives the public surface only: `SessionState`, `new_session`, the
agents, the offline model `OfflineBankLLM` (for a caller's hostile words) or a `ScriptedLLM`
(for what a manipulated model would emit), and the token service's aiohttp app. It then
judges each case on four things: other customers' data, DB writes outside the verified
customer, the audit trail, and a clear refusal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from livekit import api
from livekit.agents import llm
from scripted_llm import ScriptedLLM, ToolCall

import agents.base
import agents.session
from agents import AGENTS, new_session
from agents.verification import bind_principal
from models import OfflineBankLLM
from shared_state import Assurance, HandoffBrief, SessionState
from telephony.channel import detect_channel
from token_service import TokenSettings, create_app
from tools.db import Database, load_demo_customers
from tools.money import format_cents, speak_cents

CASES_PATH = Path(__file__).parent / "data" / "hostile_cases.json"
DEMO = {c["customer_number"]: c for c in load_demo_customers()}
PINS = {number: spec["pin"] for number, spec in DEMO.items()}

TOKEN_KEY = "security-test-key"
TOKEN_SECRET = "security-test-secret-long-enough-for-hs256-signing"
TOKEN_SETTINGS = TokenSettings(
    livekit_url="ws://localhost:7880", api_key=TOKEN_KEY, api_secret=TOKEN_SECRET
)

# Words a caller hears when the desk declines (offline model and tool errors alike).
REFUSAL = re.compile(
    r"can't|cannot|can not|couldn't|unable|not able|need to verify|must be verified|"
    r"not verified|verify your identity|don't match|locked|too many|already verified|"
    r"only help with your own|none of (?:the caller's|your) cards|not on (?:the caller's|your)|"
    r"isn't|not transferred|unknown function|error parsing|must be|should be|"
    r"doesn't look like|please give just|which card|no .* account",
    re.IGNORECASE,
)
GENERIC_INTERNAL_ERROR = "An internal error occurred"


async def settle(*states: SessionState) -> None:
    """Wait for every background audit / security-event write of these calls' turns."""
    for state in states:
        await agents.base.flush_background(state)


# -- other customers' data ---------------------------------------------------------------------


def customer_strings(number: str) -> dict[str, set[str]]:
    """Everything that identifies one demo customer's data in words or figures."""
    spec = DEMO[number]
    names = set(spec["name"].split())
    digits: set[str] = set()
    amounts: set[str] = set()
    merchants: set[str] = set()
    for account in spec["accounts"]:
        digits.add(account["last_four"])
        for key in ("ledger_cents", "available_cents", "credit_limit_cents"):
            if key in account:
                amounts |= _money_forms(account[key])
        if "credit_limit_cents" in account:
            amounts |= _money_forms(account["credit_limit_cents"] - account["ledger_cents"])
    for card in spec["cards"]:
        digits.add(card["last_four"])
    for txn in spec["transactions"]:
        merchants.add(txn["merchant"])
        amounts |= _money_forms(abs(txn["amount_cents"]))
    return {"names": names, "digits": digits, "amounts": amounts, "merchants": merchants}


def _money_forms(cents: int) -> set[str]:
    return {speak_cents(cents), format_cents(cents), format_cents(cents).lstrip("$")}


def foreign_patterns(own: str | None) -> list[tuple[str, re.Pattern[str]]]:
    """Patterns for every demo customer's data except `own`'s (and except strings `own`
    shares with them)."""
    mine = (
        customer_strings(own)
        if own
        else {"names": set(), "digits": set(), "amounts": set(), "merchants": set()}
    )
    mine_all = set().union(*mine.values())
    patterns: list[tuple[str, re.Pattern[str]]] = []
    for number in DEMO:
        if number == own:
            continue
        for kind, values in customer_strings(number).items():
            for value in sorted(values - mine_all):
                if kind == "amounts" and any(value in m for m in mine_all):
                    continue  # a sub-phrase of one of our own figures
                flags = 0 if kind == "names" else re.IGNORECASE
                patterns.append(
                    (
                        f"{number}:{kind}:{value}",
                        re.compile(rf"(?<![\w$]){re.escape(value)}(?!\w)", flags),
                    )
                )
    return patterns


def leaks(texts: list[str], own: str | None, *, echoed: str = "") -> list[str]:
    """Other customers' data found in `texts`; a value the attacker typed (present in
    `echoed`) and merely heard back is not a disclosure."""
    found = []
    for label, pattern in foreign_patterns(own):
        if pattern.search(echoed):
            continue
        for text in texts:
            if pattern.search(text):
                found.append(f"{label} in {text[:160]!r}")
    return found


# -- DB snapshots --------------------------------------------------------------------------------


async def snapshot(db: Database) -> dict[int, dict[str, Any]]:
    """Per-customer view of every row the desk could write, plus the customer row itself
    (less the PIN-lockout counters, which a brute-force attempt is *meant* to move)."""
    async with db.pool.acquire() as conn:
        customers = await conn.fetch(
            "SELECT id, customer_number, full_name, phone_e164, pin_hash FROM customers ORDER BY id"
        )
        cards = await conn.fetch("SELECT id, customer_id, last_four, status FROM cards ORDER BY id")
        cases = await conn.fetch(
            "SELECT id, customer_id, kind, status, card_id, transaction_id, summary FROM cases "
            "ORDER BY id"
        )
        events = await conn.fetch(
            "SELECT id, card_id, customer_id, from_status, to_status FROM card_events ORDER BY id"
        )
        accounts = await conn.fetch(
            "SELECT id, customer_id, ledger_balance_cents, available_balance_cents FROM accounts "
            "ORDER BY id"
        )
        txns = await conn.fetch(
            "SELECT t.id, a.customer_id, t.amount_cents, t.merchant FROM transactions t "
            "JOIN accounts a ON a.id = t.account_id ORDER BY t.id"
        )
    out: dict[int, dict[str, Any]] = {}
    for c in customers:
        cid = c["id"]
        out[cid] = {
            "customer": dict(c),
            "cards": [dict(r) for r in cards if r["customer_id"] == cid],
            "cases": [dict(r) for r in cases if r["customer_id"] == cid],
            "card_events": [dict(r) for r in events if r["customer_id"] == cid],
            "accounts": [dict(r) for r in accounts if r["customer_id"] == cid],
            "transactions": [dict(r) for r in txns if r["customer_id"] == cid],
        }
    return out


def foreign_writes(
    before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]], own_id: int | None
) -> list[str]:
    problems = []
    if set(before) != set(after):
        problems.append(f"customers changed: {sorted(before)} -> {sorted(after)}")
    for cid in sorted(set(before) | set(after)):
        if cid == own_id:
            continue
        b, a = before.get(cid, {}), after.get(cid, {})
        for table in ("customer", "cards", "cases", "card_events", "accounts", "transactions"):
            if b.get(table) != a.get(table):
                problems.append(f"customer {cid}: {table} changed")
    return problems


async def lockout(db: Database, number: str) -> tuple[int, Any]:
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT failed_pin_attempts, verification_locked_until FROM customers "
            "WHERE customer_number = $1",
            number,
        )
    return row["failed_pin_attempts"], row["verification_locked_until"]


# -- running a case ------------------------------------------------------------------------------


@dataclass
class Trace:
    """What one hostile case produced, across all its sessions and HTTP calls."""

    assistant: list[str] = field(default_factory=list)
    outputs: list[tuple[str, str, bool]] = field(default_factory=list)  # (tool, output, is_error)
    http: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    session_ids: list[str] = field(default_factory=list)
    states: list[SessionState] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    security_events: list[dict[str, Any]] = field(default_factory=list)
    handoff_audit: list[dict[str, Any]] = field(default_factory=list)
    final_identity: str | None = None
    final_agent: str | None = None
    token_outcomes: list[dict[str, Any]] = field(default_factory=list)
    agent_mismatches: list[tuple[str | None, str | None]] = field(default_factory=list)
    history: list[str] = field(default_factory=list)  # every item's text, calls included
    checkpoints: list[str] = field(default_factory=list)


def _turn(spec: Any) -> Any:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return [_turn(s) for s in spec]
    return ToolCall(spec["call"], spec.get("args", {}))


def _collect(history: llm.ChatContext, trace: Trace) -> None:
    names: dict[str, str] = {}
    for item in history.items:
        if item.type == "message":
            trace.history.append(item.text_content or "")
        elif item.type == "function_call":
            trace.history.append(f"{item.name}({item.arguments})")
        elif item.type == "function_call_output":
            trace.history.append(str(item.output))
        if item.type == "function_call":
            names[item.call_id] = item.name
        elif item.type == "function_call_output":
            trace.outputs.append(
                (names.get(item.call_id, item.name), str(item.output), item.is_error)
            )
        elif item.type == "message" and item.role == "assistant":
            trace.assistant.append(item.text_content or "")


_REF = re.compile(r"^\{\{(customer_id|txn):(.+)\}\}$")


async def resolve(db: Database, value: Any) -> Any:
    """Replace symbolic references in a case with real ids from the seeded DB:
    "{{customer_id:1002}}" -> Ben's id, "{{txn:ZX Electronics Online}}" -> that charge's id."""
    if isinstance(value, dict):
        return {k: await resolve(db, v) for k, v in value.items()}
    if isinstance(value, list):
        return [await resolve(db, v) for v in value]
    if isinstance(value, str) and (m := _REF.match(value)):
        kind, arg = m.groups()
        async with db.pool.acquire() as conn:
            if kind == "customer_id":
                return await conn.fetchval(
                    "SELECT id FROM customers WHERE customer_number = $1", arg
                )
            return await conn.fetchval("SELECT id FROM transactions WHERE merchant = $1", arg)
    return value


def attacker_input(case: dict[str, Any]) -> str:
    """Everything the attacker typed or made the model send (echoing it back is no leak)."""
    parts: list[str] = []
    for step in case.get("steps") or [{"session": case}]:
        s = step.get("session", {})
        parts += s.get("caller_text", [])
        for turn in s.get("scripted", []):
            parts.append(turn.get("caller", ""))
            parts.append(json.dumps(turn.get("model", []), ensure_ascii=False))
    return "\n".join(parts)


async def run_session(db: Database, spec: dict[str, Any], trace: Trace) -> SessionState:
    state = SessionState(db=db, channel=spec.get("channel", "console"), room_name=spec.get("room"))
    if spec.get("caller_id"):
        state.caller.candidate_customer_id = (await db.customer_by_number(spec["caller_id"])).id
    identity = spec.get("identity")
    if identity:
        bind_principal(state, await db.customer_by_number(identity), Assurance.PIN)
    agent_id = spec.get("agent", "greeter")
    if agent_id != "greeter":
        facts = [f"caller verified as {state.principal.first_name}"] if state.principal else []
        state.brief = HandoffBrief(from_agent="greeter", verified_facts=facts)
    if "scripted" in spec:
        model: llm.LLM[Any] = ScriptedLLM(fallback="OK.")
        turns = spec["scripted"]
    else:
        model = OfflineBankLLM()
        turns = [{"caller": line} for line in spec["caller_text"]]
    trace.session_ids.append(state.session_id)
    trace.states.append(state)
    session = new_session(state, llm=model)
    async with session:
        if isinstance(model, ScriptedLLM) and agent_id != "greeter":
            model.push(_turn(spec.get("opening", "How can I help?")))  # the specialist's opening
        await session.start(AGENTS[agent_id]())
        for step in turns:
            if isinstance(model, ScriptedLLM):
                model.push(*[_turn(t) for t in step.get("model", [])])
            await session.run(user_input=step["caller"])
        _collect(session.history, trace)
        live = getattr(session.current_agent, "agent_id", None)
        if live != state.current_agent:  # what is audited/checkpointed must be what runs
            trace.agent_mismatches.append((state.current_agent, live))
    await settle(state)
    if state.room_name:
        trace.checkpoints.append(json.dumps(await db.load_checkpoint(state.room_name)))
    trace.final_identity = state.principal.customer_number if state.principal else None
    trace.final_agent = state.current_agent
    return state


async def api_login(
    client: TestClient, number: Any, pin: Any, trace: Trace
) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/token", json={"customer_number": number, "pin": pin})
    body = await resp.json()
    trace.http.append((resp.status, body))
    trace.request_ids.append(resp.headers["X-Request-Id"])
    return resp.status, body


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def forge(token: str, how: str) -> str:
    """Derive a hostile token from a genuine one."""
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))
    if how == "replayed":
        return token
    if how == "tampered_customer":
        claims["attributes"]["bank.customer_id"] = "2"
        return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    if how == "tampered_room":
        claims["video"]["room"] = "bank-someone-elses-call"
        return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    if how == "alg_none":
        none_header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        claims["attributes"]["bank.customer_id"] = "2"
        return f"{none_header}.{b64(json.dumps(claims).encode())}."
    if how in ("wrong_secret", "self_signed_admin"):
        if how == "self_signed_admin":
            claims["video"].update(roomAdmin=True, roomList=True)
            claims["attributes"]["bank.customer_id"] = "2"
        body = f"{header}.{b64(json.dumps(claims).encode())}"
        sig = hmac.new(
            b"guessed-secret-guessed-secret-guessed", body.encode(), hashlib.sha256
        ).digest()
        return f"{body}.{b64(sig)}"
    if how == "expired":
        return (
            api.AccessToken(TOKEN_KEY, TOKEN_SECRET)
            .with_identity(claims["sub"])
            .with_ttl(timedelta(seconds=-60))
            .with_grants(api.VideoGrants(room_join=True, room=claims["video"]["room"]))
            .with_attributes(claims["attributes"])
            .to_jwt()
        )
    raise ValueError(how)


@dataclass
class _Joined:
    identity: str
    attributes: dict[str, str]
    kind: int = 0  # rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD


def admit(token: str, room: str) -> dict[str, Any]:
    """What a LiveKit server plus our agent make of a join attempt with `token` for `room`:
    the signature and expiry are checked, the grant must name that room, and only then do the
    signed attributes reach `detect_channel`."""
    try:
        claims = api.TokenVerifier(TOKEN_KEY, TOKEN_SECRET).verify(token)
    except Exception as exc:  # jwt errors: signature, expiry, algorithm, malformed
        return {"admitted": False, "why": type(exc).__name__}
    if claims.video is None or not claims.video.room_join or claims.video.room != room:
        return {"admitted": False, "why": "room grant mismatch"}
    info = detect_channel(_Joined(claims.identity, dict(claims.attributes or {})))
    return {"admitted": True, "customer_id": info.app_customer_id, "room": claims.video.room}


async def run_case(db: Database, case: dict[str, Any]) -> Trace:
    trace = Trace()
    steps = case.get("steps") or [{"session": case}]
    async with TestClient(TestServer(create_app(db, TOKEN_SETTINGS))) as client:
        for step in steps:
            if "session" in step:
                await run_session(db, step["session"], trace)
            elif "api_login" in step:
                login = step["api_login"]
                status, _ = await api_login(client, login["customer_number"], login["pin"], trace)
                if "status" in step:
                    assert status == step["status"], (step, trace.http[-1])
            elif "token" in step:
                spec = step["token"]
                number = spec["customer_number"]
                status, body = await api_login(client, number, PINS[number], trace)
                assert status == 200, body
                token = forge(body["participant_token"], spec["attack"])
                room = body["room_name"] if spec.get("room", "own") == "own" else spec["room"]
                outcome = admit(token, room)
                outcome["genuine_customer_id"] = (await db.customer_by_number(number)).id
                outcome["genuine_room"] = body["room_name"]
                outcome["attack"] = spec["attack"]
                trace.token_outcomes.append(outcome)
            else:
                raise ValueError(step)
    await settle(*trace.states)
    for sid in trace.session_ids + trace.request_ids:
        trace.security_events += await db.security_events(sid)
        trace.handoff_audit += await db.handoff_audit(sid)
    return trace


def judge(
    case: dict[str, Any], trace: Trace, before: Any, after: Any, own_id: int | None
) -> list[str]:
    """Every reason the case did not hold (empty: it held)."""
    expect = case.get("expect", {})
    failures: list[str] = []
    own = expect.get("final_identity", case.get("identity"))
    if trace.session_ids and trace.final_identity != own:
        failures.append(f"identity is {trace.final_identity!r}, expected {own!r}")

    texts = trace.assistant + [o for _, o, _ in trace.outputs]
    texts += [json.dumps(body) for _, body in trace.http]
    failures += [f"leak: {x}" for x in leaks(texts, own, echoed=attacker_input(case))]
    failures += [f"write: {x}" for x in foreign_writes(before, after, own_id)]

    for _tool, output, is_error in trace.outputs:
        if is_error and output.startswith(GENERIC_INTERNAL_ERROR):
            failures.append(f"unhandled exception in {_tool} (caller hears a generic error)")

    refusal = expect.get("refusal")
    if refusal == "words":
        if not any(REFUSAL.search(t) for t in trace.assistant[1:] or trace.assistant):
            failures.append(f"no spoken refusal in {trace.assistant!r}")
    elif refusal == "tool_error":
        tools = expect.get("refused_tools")
        errors = [(t, o) for t, o, e in trace.outputs if e and (tools is None or t in tools)]
        if not errors:
            failures.append(f"no error tool output ({tools}) in {trace.outputs!r}")
    elif refusal == "tool_output":
        pattern = re.compile(expect["output_matches"], re.IGNORECASE)
        if not any(pattern.search(o) for _, o, _ in trace.outputs):
            failures.append(f"no tool output matching {pattern.pattern!r} in {trace.outputs!r}")
    elif refusal == "http":
        if not trace.http or not all(
            s >= 400 for s, _ in trace.http[-expect.get("http_refusals", 1) :]
        ):
            failures.append(f"HTTP attempts not refused: {trace.http!r}")
    elif refusal == "token":
        for outcome in trace.token_outcomes:
            replay_ok = (
                outcome["attack"] == "replayed"
                and outcome.get("admitted")
                and outcome.get("customer_id") == outcome["genuine_customer_id"]
                and outcome.get("room") == outcome["genuine_room"]
            )
            if outcome.get("admitted") and not replay_ok:
                failures.append(f"hostile token admitted: {outcome}")
    elif refusal == "scrubbed":  # the defence is silent: nothing to hear, nothing kept
        if "pin_absent" not in expect:
            failures.append("a scrubbed case names the PIN it checks (expect.pin_absent)")
    elif refusal is not None:
        raise ValueError(refusal)

    if pin := expect.get("pin_absent"):
        kept = trace.history + trace.checkpoints
        kept += [r["reason"] for r in trace.handoff_audit]
        kept += [e["detail"] for e in trace.security_events]
        for text in kept:
            if holds_pin(text, pin):
                failures.append(f"PIN {pin} kept in {text[:160]!r}")
    if own_id is not None:
        for table in expect.get("own_unchanged", []):
            if before.get(own_id, {}).get(table) != after.get(own_id, {}).get(table):
                failures.append(f"own {table} changed without the caller's yes")

    kinds = [e["kind"] for e in trace.security_events]
    for kind in expect.get("security_events", []):
        if kind not in kinds:
            failures.append(f"no security event {kind!r} (got {kinds})")
    rejected = [
        (r["to_agent"], r["rejection_reason"])
        for r in trace.handoff_audit
        if r["outcome"] == "rejected"
    ]
    for to_agent, reason in expect.get("handoff_rejections", []):
        if (to_agent, reason) not in rejected:
            failures.append(f"no rejected handoff {to_agent}/{reason} in audit (got {rejected})")
    for recorded, live in trace.agent_mismatches:
        failures.append(f"state.current_agent={recorded!r} but the live agent is {live!r}")
    if expect.get("final_agent") and trace.final_agent != expect["final_agent"]:
        failures.append(f"ended at {trace.final_agent}, expected {expect['final_agent']}")
    return failures


_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip


def holds_pin(text: str, pin: str) -> bool:
    """The PIN in any form: digits and digit words as digits, separators dropped, anything
    else breaking the run."""
    tokens = re.findall(r"\d|[a-z]+|[^\w\s.,;:/_\-\"']", text.lower())
    seq = "".join(t if t.isdigit() else _DIGIT_WORDS.get(t, "|") for t in tokens)
    return re.search(rf"(?<!\d){pin}(?!\d)", seq) is not None


def load_cases() -> list[dict[str, Any]]:
    return json.loads(CASES_PATH.read_text())["cases"]
