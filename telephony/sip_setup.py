"""Create the inbound SIP trunk and dispatch rule for the bank's phone line.

    python -m telephony.sip_setup [--dry-run]

Reads `telephony/inbound_trunk.json` and `telephony/dispatch_rule.json` (protobuf JSON of
`SIPInboundTrunkInfo` / `SIPDispatchRuleInfo`). `SIP_INBOUND_NUMBER` (E.164, comma-separated
for several) replaces the trunk's placeholder number. `--dry-run` prints the two requests and
touches no network. Otherwise LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET are used."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from livekit import api

from .channel import normalize_phone

HERE = Path(__file__).resolve().parent
TRUNK_FILE = HERE / "inbound_trunk.json"
DISPATCH_FILE = HERE / "dispatch_rule.json"
PLACEHOLDER_NUMBER = "+15550100000"
AGENT_NAME = "bank-support"
ROOM_PREFIX = "call-"
DRY_RUN_TRUNK_ID = "<trunk id returned by CreateSIPInboundTrunk>"


class SipSetupError(ValueError):
    """The JSON files or the environment do not describe a usable setup."""


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SipSetupError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SipSetupError(f"{path} must hold a JSON object")
    return {k: v for k, v in data.items() if not k.startswith("_")}


def inbound_numbers(env: Mapping[str, str], fallback: Sequence[str]) -> list[str]:
    raw = env.get("SIP_INBOUND_NUMBER", "").strip()
    if not raw:
        return list(fallback)
    numbers: list[str] = []
    for part in raw.split(","):
        number = normalize_phone(part)
        if number is None:
            raise SipSetupError(f"SIP_INBOUND_NUMBER: {part.strip()!r} is not an E.164 number")
        numbers.append(number)
    return numbers


def build_trunk_request(
    path: Path = TRUNK_FILE, env: Mapping[str, str] | None = None
) -> api.CreateSIPInboundTrunkRequest:
    env = os.environ if env is None else env
    try:
        trunk = json_format.ParseDict(_load_json(path), api.SIPInboundTrunkInfo())
    except json_format.ParseError as exc:
        raise SipSetupError(f"{path}: {exc}") from exc
    numbers = inbound_numbers(env, list(trunk.numbers))
    if not numbers:
        raise SipSetupError("the inbound trunk needs at least one number (SIP_INBOUND_NUMBER)")
    del trunk.numbers[:]
    trunk.numbers.extend(numbers)
    return api.CreateSIPInboundTrunkRequest(trunk=trunk)


def build_dispatch_request(
    trunk_id: str, path: Path = DISPATCH_FILE
) -> api.CreateSIPDispatchRuleRequest:
    try:
        rule = json_format.ParseDict(_load_json(path), api.SIPDispatchRuleInfo())
    except json_format.ParseError as exc:
        raise SipSetupError(f"{path}: {exc}") from exc
    if rule.rule.WhichOneof("rule") != "dispatch_rule_individual":
        raise SipSetupError(f"{path}: the rule must be dispatch_rule_individual (room per call)")
    if rule.rule.dispatch_rule_individual.room_prefix != ROOM_PREFIX:
        raise SipSetupError(f"{path}: room_prefix must be {ROOM_PREFIX!r}")
    if AGENT_NAME not in [agent.agent_name for agent in rule.room_config.agents]:
        raise SipSetupError(f"{path}: room_config must dispatch the {AGENT_NAME!r} agent")
    if rule.hide_phone_number:
        raise SipSetupError(f"{path}: hide_phone_number would disable the caller-id lookup")
    del rule.trunk_ids[:]
    rule.trunk_ids.append(trunk_id)
    return api.CreateSIPDispatchRuleRequest(dispatch_rule=rule)


def _describe(message: Any) -> str:
    return json_format.MessageToJson(message, preserving_proto_field_name=True, indent=2)


def _require_env(env: Mapping[str, str]) -> tuple[str, str, str]:
    names = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
    values = {name: env.get(name, "") for name in names}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise SipSetupError(f"{', '.join(missing)} must be set (or use --dry-run)")
    return values["LIVEKIT_URL"], values["LIVEKIT_API_KEY"], values["LIVEKIT_API_SECRET"]


async def apply(env: Mapping[str, str]) -> tuple[api.SIPInboundTrunkInfo, api.SIPDispatchRuleInfo]:
    trunk_request = build_trunk_request(env=env)
    if PLACEHOLDER_NUMBER in trunk_request.trunk.numbers:
        raise SipSetupError("SIP_INBOUND_NUMBER must be set: the trunk still has the placeholder")
    build_dispatch_request(DRY_RUN_TRUNK_ID)  # validate the rule file before creating anything
    url, key, secret = _require_env(env)
    async with api.LiveKitAPI(url, key, secret) as lk:
        trunk = await lk.sip.create_inbound_trunk(trunk_request)
        rule = await lk.sip.create_dispatch_rule(build_dispatch_request(trunk.sip_trunk_id))
    return trunk, rule


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m telephony.sip_setup", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="print the requests, no network")
    args = parser.parse_args(argv)
    try:
        if args.dry_run:
            print("# CreateSIPInboundTrunkRequest")
            print(_describe(build_trunk_request()))
            print("# CreateSIPDispatchRuleRequest")
            print(_describe(build_dispatch_request(DRY_RUN_TRUNK_ID)))
            return 0
        trunk, rule = asyncio.run(apply(os.environ))
    except SipSetupError as exc:
        print(f"sip_setup: {exc}", file=sys.stderr)
        return 2
    except api.TwirpError as exc:
        print(f"sip_setup: LiveKit refused the request: {exc}", file=sys.stderr)
        return 1
    print(f"inbound trunk: {trunk.sip_trunk_id} numbers={list(trunk.numbers)}")
    print(f"dispatch rule: {rule.sip_dispatch_rule_id} -> agent {AGENT_NAME}, rooms {ROOM_PREFIX}*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
