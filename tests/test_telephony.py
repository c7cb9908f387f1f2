"""Channel detection, caller-id lookup, DTMF PIN entry and the SIP setup requests."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from livekit import api, rtc

from telephony import CallerInfo, DtmfPinCollector, detect_channel, normalize_phone, sip_setup
from tools.db import Database

SIP = rtc.ParticipantKind.PARTICIPANT_KIND_SIP
STANDARD = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT


@dataclass
class FakeParticipant:
    kind: int
    attributes: dict[str, str] = field(default_factory=dict)
    identity: str = "someone"


# -- channel detection ------------------------------------------------------------------------


def test_sip_caller() -> None:
    info = detect_channel(
        FakeParticipant(SIP, {"sip.phoneNumber": "+14155550101", "sip.trunkID": "ST_1"}, "sip_x")
    )
    assert info == CallerInfo(
        channel="sip", phone_number="+14155550101", participant_identity="sip_x"
    )
    assert not info.is_app_authenticated


def test_sip_caller_cannot_claim_app_auth_and_junk_caller_id_is_dropped() -> None:
    info = detect_channel(
        FakeParticipant(
            SIP, {"sip.phoneNumber": "anonymous", "bank.auth": "app", "bank.customer_id": "1"}
        )
    )
    assert info.channel == "sip"
    assert info.phone_number is None
    assert info.app_customer_id is None


def test_app_caller_with_signed_attributes() -> None:
    info = detect_channel(
        FakeParticipant(STANDARD, {"bank.auth": "app", "bank.customer_id": "42"}, "customer-42-x")
    )
    assert info == CallerInfo(
        channel="app", app_customer_id=42, participant_identity="customer-42-x"
    )
    assert info.is_app_authenticated


@pytest.mark.parametrize(
    "attributes",
    [
        {"bank.auth": "app", "bank.customer_id": "abc"},
        {"bank.auth": "app", "bank.customer_id": "-1"},
        {"bank.auth": "app", "bank.customer_id": "0"},
        {"bank.auth": "app", "bank.customer_id": "1.5"},
        {"bank.auth": "app", "bank.customer_id": ""},
        {"bank.auth": "app", "bank.customer_id": "١٢"},  # non-ASCII digits
        {"bank.auth": "app"},
        {"bank.auth": "sip", "bank.customer_id": "1"},
        {"bank.customer_id": "1"},
        {},
    ],
)
def test_app_attributes_that_are_not_app_auth(attributes: dict[str, str]) -> None:
    info = detect_channel(FakeParticipant(STANDARD, attributes))
    assert info.channel == "app"
    assert info.app_customer_id is None
    assert not info.is_app_authenticated


def test_only_standard_participants_can_be_app_authenticated() -> None:
    info = detect_channel(FakeParticipant(AGENT, {"bank.auth": "app", "bank.customer_id": "1"}))
    assert info.app_customer_id is None


def test_no_participant_is_console() -> None:
    assert detect_channel(None) == CallerInfo(channel="console")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+14155550101", "+14155550101"),
        ("14155550101", "+14155550101"),
        ("4155550101", "+14155550101"),
        ("+1 (415) 555-0101", "+14155550101"),
        ("tel:+14155550101", "+14155550101"),
        ("sip:+14155550101@pstn.example.com;user=phone", "+14155550101"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+442079460958", "+442079460958"),
        ("anonymous", None),
        ("Restricted", None),
        ("", None),
        (None, None),
        ("+0123456789", None),
        ("+1234", None),
        ("12345", None),
        ("+1415555010x", None),
        ("0155550101", None),
    ],
)
def test_normalize_phone(raw: str | None, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


async def test_caller_id_lookup(db: Database) -> None:
    ben = await db.customer_by_number("1002")
    info = detect_channel(FakeParticipant(SIP, {"sip.phoneNumber": "1-415-555-0102"}))
    assert info.phone_number == "+14155550102"
    assert await db.customer_by_phone(info.phone_number) == ben

    stranger = detect_channel(FakeParticipant(SIP, {"sip.phoneNumber": "+14155559999"}))
    assert stranger.phone_number is not None
    assert await db.customer_by_phone(stranger.phone_number) is None


# -- DTMF -------------------------------------------------------------------------------------


class FakeRoom:
    """Just the event-emitter surface the collector uses."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[Callable[..., Any]]] = {}

    def on(self, event: str, callback: Callable[..., Any]) -> Callable[..., Any]:
        self.handlers.setdefault(event, []).append(callback)
        return callback

    def off(self, event: str, callback: Callable[..., Any]) -> None:
        self.handlers[event].remove(callback)

    def press(self, keys: str, participant: Any = None) -> None:
        for key in keys:
            code = {"*": 10, "#": 11}.get(key, int(key) if key.isdigit() else 0)
            for cb in list(self.handlers.get("sip_dtmf_received", [])):
                cb(rtc.SipDTMF(code=code, digit=key, participant=participant))


async def _collect_after(
    room: FakeRoom, collector: DtmfPinCollector, keys: str, *, within: float = 2.0
) -> str | None:
    task = asyncio.create_task(collector.collect(within))
    await asyncio.sleep(0)  # let collect() subscribe
    room.press(keys)
    result = await task
    assert room.handlers["sip_dtmf_received"] == []  # always unsubscribes
    return result


async def test_dtmf_pound_terminates(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    room = FakeRoom()
    started = asyncio.get_running_loop().time()
    assert await _collect_after(room, DtmfPinCollector(room), "2468#") == "2468"
    assert asyncio.get_running_loop().time() - started < 1.0  # did not wait for a timeout
    assert "2468" not in caplog.text


async def test_dtmf_max_digits_completes_without_pound() -> None:
    room = FakeRoom()
    collector = DtmfPinCollector(room, max_digits=6)
    assert await _collect_after(room, collector, "123456") == "123456"


async def test_dtmf_inter_digit_timeout_completes_with_enough_digits() -> None:
    room = FakeRoom()
    collector = DtmfPinCollector(room, inter_digit_timeout=0.05)
    assert await _collect_after(room, collector, "1357", within=5.0) == "1357"


async def test_dtmf_star_clears() -> None:
    room = FakeRoom()
    assert await _collect_after(room, DtmfPinCollector(room), "99*1234#") == "1234"
    assert await _collect_after(room, DtmfPinCollector(room), "1234*#") is None


async def test_dtmf_too_few_digits_is_none() -> None:
    room = FakeRoom()
    assert await _collect_after(room, DtmfPinCollector(room), "12#") is None
    quick = DtmfPinCollector(room, inter_digit_timeout=0.05)
    assert await _collect_after(room, quick, "123", within=5.0) is None


async def test_dtmf_overall_timeout_with_no_keys_is_none() -> None:
    room = FakeRoom()
    assert await _collect_after(room, DtmfPinCollector(room), "", within=0.05) is None


async def test_dtmf_keys_before_collect_and_from_others_are_ignored() -> None:
    room = FakeRoom()
    room.press("5555")  # nobody listening yet
    collector = DtmfPinCollector(room, participant_identity="sip_caller")

    @dataclass
    class Who:
        identity: str

    task = asyncio.create_task(collector.collect(2.0))
    await asyncio.sleep(0)
    room.press("0000", participant=Who("someone_else"))
    room.press("8642#", participant=Who("sip_caller"))
    assert await task == "8642"


async def test_dtmf_with_a_real_livekit_event_emitter() -> None:
    emitter: rtc.EventEmitter[str] = rtc.EventEmitter()
    collector = DtmfPinCollector(emitter)
    task = asyncio.create_task(collector.collect(2.0))
    await asyncio.sleep(0)
    for digit, code in (("4", 4), ("3", 3), ("2", 2), ("1", 1), ("#", 11)):
        emitter.emit("sip_dtmf_received", rtc.SipDTMF(code=code, digit=digit))
    assert await task == "4321"


# -- SIP setup --------------------------------------------------------------------------------


def test_sip_setup_dry_run_prints_both_requests(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIP_INBOUND_NUMBER", "+14155550100")
    assert sip_setup.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "CreateSIPInboundTrunkRequest" in out and "CreateSIPDispatchRuleRequest" in out
    assert "+14155550100" in out and "bank-support" in out and "call-" in out


def test_sip_setup_requests_are_valid() -> None:
    trunk_request = sip_setup.build_trunk_request(
        env={"SIP_INBOUND_NUMBER": "+14155550100, +1 415 555 0111"}
    )
    assert isinstance(trunk_request, api.CreateSIPInboundTrunkRequest)
    assert list(trunk_request.trunk.numbers) == ["+14155550100", "+14155550111"]
    assert trunk_request.trunk.name == "bank-support-inbound"
    wire = trunk_request.SerializeToString()
    assert api.CreateSIPInboundTrunkRequest.FromString(wire) == trunk_request

    placeholder = sip_setup.build_trunk_request(env={})
    assert list(placeholder.trunk.numbers) == [sip_setup.PLACEHOLDER_NUMBER]

    rule_request = sip_setup.build_dispatch_request("ST_abc")
    rule = rule_request.dispatch_rule
    assert list(rule.trunk_ids) == ["ST_abc"]
    assert rule.rule.WhichOneof("rule") == "dispatch_rule_individual"
    assert rule.rule.dispatch_rule_individual.room_prefix == "call-"
    assert [a.agent_name for a in rule.room_config.agents] == ["bank-support"]
    assert not rule.hide_phone_number
    wire = rule_request.SerializeToString()
    assert api.CreateSIPDispatchRuleRequest.FromString(wire) == rule_request


def test_sip_setup_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(sip_setup.SipSetupError, match="SIP_INBOUND_NUMBER"):
        sip_setup.build_trunk_request(env={"SIP_INBOUND_NUMBER": "call me"})

    data = json.loads(sip_setup.DISPATCH_FILE.read_text())
    data["room_config"]["agents"][0]["agent_name"] = "someone-else"
    bad = tmp_path / "rule.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(sip_setup.SipSetupError, match="bank-support"):
        sip_setup.build_dispatch_request("ST_abc", bad)

    data = {
        "rule": {"dispatch_rule_direct": {"room_name": "shared"}},
        "room_config": {"agents": [{"agent_name": "bank-support"}]},
    }
    bad.write_text(json.dumps(data))
    with pytest.raises(sip_setup.SipSetupError, match="individual"):
        sip_setup.build_dispatch_request("ST_abc", bad)

    bad.write_text('{"no_such_field": 1}')
    with pytest.raises(sip_setup.SipSetupError):
        sip_setup.build_dispatch_request("ST_abc", bad)


async def test_sip_setup_refuses_before_any_network_call() -> None:
    with pytest.raises(sip_setup.SipSetupError, match="SIP_INBOUND_NUMBER"):
        await sip_setup.apply({})
    with pytest.raises(sip_setup.SipSetupError, match="LIVEKIT_URL"):
        await sip_setup.apply({"SIP_INBOUND_NUMBER": "+14155550100"})
