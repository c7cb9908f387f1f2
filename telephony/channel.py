"""Which channel a caller came in on, and what the channel itself vouches for.

* SIP: LiveKit SIP sets `sip.phoneNumber` (caller id). Caller id can be spoofed, so it only
  *suggests* a customer; the PIN is still required.
* App: the token service signs `bank.auth="app"` and `bank.customer_id` into the join token,
  and the participant cannot change its own attributes (`can_update_own_metadata=False`),
  so a well-formed pair is app-level authentication.
* Console: no participant at all (local development)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from livekit import rtc

Channel = Literal["app", "sip", "console"]

SIP_PHONE_ATTRIBUTE = "sip.phoneNumber"
APP_AUTH_ATTRIBUTE = "bank.auth"
APP_CUSTOMER_ATTRIBUTE = "bank.customer_id"

_E164 = re.compile(r"\+[1-9]\d{7,14}")
_SEPARATORS = re.compile(r"[\s().\-/]")


class ParticipantLike(Protocol):
    """What detection reads from an `rtc.Participant` (duck-typed so tests can fake it)."""

    @property
    def kind(self) -> int: ...

    @property
    def attributes(self) -> Mapping[str, str]: ...

    @property
    def identity(self) -> str: ...


@dataclass(frozen=True, slots=True)
class CallerInfo:
    channel: Channel
    phone_number: str | None = None  # E.164, SIP only (caller id: a hint, not proof)
    app_customer_id: int | None = None  # set only for a server-signed app login
    participant_identity: str | None = None

    @property
    def is_app_authenticated(self) -> bool:
        return self.channel == "app" and self.app_customer_id is not None


def detect_channel(participant: ParticipantLike | None) -> CallerInfo:
    if participant is None:
        return CallerInfo(channel="console")
    attributes = participant.attributes or {}
    identity = participant.identity or None
    if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP:
        return CallerInfo(
            channel="sip",
            phone_number=normalize_phone(attributes.get(SIP_PHONE_ATTRIBUTE)),
            participant_identity=identity,
        )
    customer_id: int | None = None
    if (
        participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
        and attributes.get(APP_AUTH_ATTRIBUTE) == "app"
    ):
        customer_id = _positive_int(attributes.get(APP_CUSTOMER_ATTRIBUTE))
    return CallerInfo(channel="app", app_customer_id=customer_id, participant_identity=identity)


def normalize_phone(raw: str | None, *, default_country_code: str | None = "1") -> str | None:
    """Best-effort E.164 (`+14155550101`) from what a SIP provider sends, or None for junk
    (`anonymous`, `restricted`, empty, letters, wrong length).

    Accepts `tel:`/`sip:` URIs, separators, a `00` international prefix, 11-digit NANP
    numbers without `+`, and 10-digit national numbers when `default_country_code` is "1"."""
    if not raw:
        return None
    text = raw.strip()
    lowered = text.lower()
    for scheme in ("tel:", "sips:", "sip:"):
        if lowered.startswith(scheme):
            text = text[len(scheme) :]
            break
    text = text.split("@", 1)[0].split(";", 1)[0]
    text = _SEPARATORS.sub("", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        if not (text.isascii() and text.isdigit()):
            return None
        if len(text) == 11 and text.startswith("1"):
            text = "+" + text
        elif len(text) == 10 and default_country_code == "1" and text[0] in "23456789":
            text = "+1" + text
        else:
            return None
    return text if _E164.fullmatch(text) else None


def _positive_int(raw: str | None) -> int | None:
    if raw is None:
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        return None
    value = int(raw)
    return value if value > 0 else None
