"""The app channel's login service against a real (embedded) Postgres, over loopback HTTP."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from livekit import api, rtc

from telephony.channel import detect_channel
from token_service import SettingsError, SlidingWindowLimiter, TokenSettings, create_app
from token_service.app import INVALID_CREDENTIALS
from tools.db import Database

KEY = "test-api-key"
SECRET = "test-api-secret-that-is-long-enough-for-hs256"
SETTINGS = TokenSettings(livekit_url="ws://localhost:7880", api_key=KEY, api_secret=SECRET)


@asynccontextmanager
async def client_for(db: Database, settings: TokenSettings = SETTINGS) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(db, settings))) as client:
        yield client


async def login(client: TestClient, number: str, pin: str) -> tuple[int, dict[str, Any], Any]:
    resp = await client.post("/api/token", json={"customer_number": number, "pin": pin})
    return resp.status, await resp.json(), resp.headers


# -- success ----------------------------------------------------------------------------------


async def test_login_returns_a_verifiable_single_room_token(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = await db.customer_by_number("1001")
    async with client_for(db) as client:
        status, body, headers = await login(client, "1001", "1234")
    assert status == 200, body
    assert set(body) == {
        "server_url",
        "participant_token",
        "room_name",
        "identity",
        "customer_name",
        "expires_in",
    }
    assert body["server_url"] == "ws://localhost:7880"
    assert body["customer_name"] == "Alice"
    assert body["expires_in"] == 600
    assert headers["Cache-Control"] == "no-store"
    token = body["participant_token"]

    claims = api.TokenVerifier(KEY, SECRET).verify(token)
    assert claims.identity == body["identity"]
    assert claims.identity.startswith(f"customer-{alice.id}-")
    assert claims.name == "Alice"
    assert claims.video is not None
    assert claims.video.room_join is True
    assert claims.video.room == body["room_name"]
    assert body["room_name"].startswith("bank-")
    assert claims.video.can_update_own_metadata is False
    assert claims.video.can_publish and claims.video.can_subscribe and claims.video.can_publish_data
    # Exactly one room: no admin/list/create powers that would reach other rooms.
    assert not (claims.video.room_admin or claims.video.room_list or claims.video.room_create)
    assert claims.video.destination_room is None
    assert claims.attributes == {"bank.customer_id": str(alice.id), "bank.auth": "app"}
    assert claims.room_config is not None
    assert [a.agent_name for a in claims.room_config.agents] == ["bank-support"]

    raw = jwt.decode(token, options={"verify_signature": False})
    assert 0 < raw["exp"] - raw["nbf"] <= 15 * 60
    assert raw["iss"] == KEY
    # Neither the token nor the PIN reaches the logs.
    assert token not in caplog.text
    assert '"1234"' not in caplog.text and "pin=1234" not in caplog.text


async def test_two_logins_get_two_rooms_and_identities(db: Database) -> None:
    async with client_for(db) as client:
        _, first, _ = await login(client, "1002", "5678")
        _, second, _ = await login(client, "1002", "5678")
    assert first["room_name"] != second["room_name"]
    assert first["identity"] != second["identity"]


async def test_signed_attributes_make_an_app_authenticated_caller(db: Database) -> None:
    """End to end with the agent's side: the token's attributes are what detect_channel trusts."""
    chloe = await db.customer_by_number("1003")
    async with client_for(db) as client:
        _, body, _ = await login(client, "1003", "2468")
    claims = api.TokenVerifier(KEY, SECRET).verify(body["participant_token"])

    @dataclass
    class Joined:
        identity: str
        attributes: dict[str, str] = field(default_factory=dict)
        kind: int = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD

    info = detect_channel(Joined(claims.identity, dict(claims.attributes or {})))
    assert info.channel == "app"
    assert info.app_customer_id == chloe.id
    assert info.is_app_authenticated


async def test_ttl_setting_is_honoured(db: Database) -> None:
    settings = TokenSettings("ws://localhost:7880", KEY, SECRET, ttl=timedelta(minutes=2))
    async with client_for(db, settings) as client:
        _, body, _ = await login(client, "1001", "1234")
    raw = jwt.decode(body["participant_token"], options={"verify_signature": False})
    assert body["expires_in"] == 120
    assert raw["exp"] - raw["nbf"] == 120


# -- the verifier rejects forged tokens -------------------------------------------------------


async def test_verifier_rejects_wrong_signature_expired_and_tampered_tokens(db: Database) -> None:
    async with client_for(db) as client:
        _, body, _ = await login(client, "1001", "1234")
    token = body["participant_token"]
    verifier = api.TokenVerifier(KEY, SECRET)

    with pytest.raises(jwt.InvalidSignatureError):
        api.TokenVerifier(KEY, "some-other-secret-that-is-long-enough-too").verify(token)

    expired = (
        api.AccessToken(KEY, SECRET)
        .with_identity("customer-1-dead")
        .with_ttl(timedelta(minutes=-5))
        .with_grants(api.VideoGrants(room_join=True, room="bank-x"))
        .to_jwt()
    )
    with pytest.raises(jwt.ExpiredSignatureError):
        verifier.verify(expired)

    # Swap the customer id in the payload but keep the original signature.
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["attributes"]["bank.customer_id"] = "999"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        verifier.verify(f"{header}.{forged}.{signature}")


# -- errors -----------------------------------------------------------------------------------


async def test_malformed_and_incomplete_bodies_are_400(db: Database) -> None:
    async with client_for(db) as client:
        resp = await client.post(
            "/api/token", data="{not json", headers={"Content-Type": "application/json"}
        )
        assert resp.status == 400
        assert (await resp.json())["error"] == "bad_request"

        for body in (
            {"customer_number": "1001"},
            {"pin": "1234"},
            {"customer_number": 1001, "pin": "1234"},
            ["1001", "1234"],
            {"customer_number": "1001", "pin": "12a4"},
            {"customer_number": "1001", "pin": "12"},
            {"customer_number": "10 01", "pin": "1234"},
        ):
            resp = await client.post("/api/token", json=body)
            payload = await resp.json()
            assert resp.status == 400, body
            assert payload["error"] == "bad_request" and payload["message"]

        resp = await client.post(
            "/api/token", data=b"x" * 10_000, headers={"Content-Type": "application/json"}
        )
        assert resp.status == 400

    # None of this counted towards the PIN lockout.
    assert (await db.verify_pin("1001", "1234")).status == "verified"


async def test_wrong_pin_and_unknown_customer_look_the_same(db: Database) -> None:
    alice = await db.customer_by_number("1001")
    async with client_for(db) as client:
        wrong_status, wrong, wrong_headers = await login(client, "1001", "0000")
        unknown_status, unknown, unknown_headers = await login(client, "9999", "0000")
    assert wrong_status == unknown_status == 401
    assert wrong == unknown == {"error": "invalid_credentials", "message": INVALID_CREDENTIALS}

    [event] = await db.security_events(wrong_headers["X-Request-Id"])
    assert (event["kind"], event["channel"], event["customer_id"]) == (
        "app_login_failed",
        "app",
        alice.id,
    )
    assert "0000" not in event["detail"]
    [event] = await db.security_events(unknown_headers["X-Request-Id"])
    assert (event["kind"], event["customer_id"]) == ("app_login_failed", None)


async def test_three_wrong_pins_lock_even_the_right_pin_out(db: Database) -> None:
    async with client_for(db) as client:
        assert (await login(client, "1004", "0000"))[0] == 401
        assert (await login(client, "1004", "0001"))[0] == 401
        status, body, headers = await login(client, "1004", "0002")
        assert status == 423
        assert body["error"] == "locked"
        assert 14 * 60 <= body["retry_after_seconds"] <= 15 * 60
        assert headers["Retry-After"] == str(body["retry_after_seconds"])

        status, body, headers = await login(client, "1004", "1357")
        assert status == 423
        assert body["retry_after_seconds"] > 0
    [event] = await db.security_events(headers["X-Request-Id"])
    assert event["kind"] == "app_login_locked"


async def test_per_customer_number_throttle(db: Database) -> None:
    async with client_for(db) as client:
        # An unknown number locks after three wrong PINs, exactly like a customer's.
        statuses = [(await login(client, "5555", "0000"))[0] for _ in range(5)]
        assert statuses == [401, 401, 423, 423, 423]
        status, body, headers = await login(client, "5555", "0000")
        assert status == 429
        assert body["error"] == "throttled"
        assert 1 <= body["retry_after_seconds"] <= 60
        assert headers["Retry-After"] == str(body["retry_after_seconds"])
        # A different customer number from the same client is still allowed.
        assert (await login(client, "1001", "1234"))[0] == 200


async def test_per_ip_throttle(db: Database) -> None:
    async with client_for(db) as client:
        for n in range(10):
            assert (await login(client, f"70{n:02d}", "0000"))[0] == 401
        status, body, _ = await login(client, "7099", "0000")
    assert status == 429
    assert body["retry_after_seconds"] >= 1


async def test_database_down_is_503(dsn: str) -> None:
    closed = await Database.connect(dsn, retry_budget_s=0.2)
    await closed.close()
    async with client_for(closed) as client:
        status, body, _ = await login(client, "1001", "1234")
        health = await client.get("/healthz")
        assert health.status == 200
    assert status == 503
    assert body["error"] == "unavailable"


async def test_cors_preflight_and_unknown_routes(db: Database) -> None:
    settings = TokenSettings(
        livekit_url="ws://localhost:7880",
        api_key=KEY,
        api_secret=SECRET,
        allowed_origins=frozenset({"http://localhost:8081"}),
    )
    async with client_for(db, settings) as client:
        resp = await client.options(
            "/api/token",
            headers={"Origin": "http://localhost:8081", "Access-Control-Request-Method": "POST"},
        )
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:8081"
        assert "Access-Control-Allow-Credentials" not in resp.headers
        resp = await client.get("/nope")
        assert resp.status == 404
        assert (await resp.json())["error"] == "not_found"
        resp = await client.get("/api/token")
        assert resp.status == 405


# -- settings and limiter units ---------------------------------------------------------------


def test_settings_defaults_and_required_variables() -> None:
    local = TokenSettings.from_env({})
    assert (local.livekit_url, local.api_key, local.api_secret) == (
        "ws://localhost:7880",
        "devkey",
        "secret",
    )
    assert local.ttl == timedelta(minutes=10)
    assert (local.host, local.port) == ("127.0.0.1", 8088)
    assert "secret'" not in repr(local).replace("'***'", "")

    with pytest.raises(SettingsError, match="LIVEKIT_API_KEY and LIVEKIT_API_SECRET"):
        TokenSettings.from_env({"LIVEKIT_URL": "wss://bank.livekit.cloud"})
    with pytest.raises(SettingsError, match="LIVEKIT_API_SECRET"):
        TokenSettings.from_env({"LIVEKIT_URL": "wss://bank.livekit.cloud", "LIVEKIT_API_KEY": "k"})
    dev = TokenSettings.from_env({"LIVEKIT_URL": "ws://livekit:7880", "BANK_DEV": "1"})
    assert dev.api_key == "devkey"

    with pytest.raises(SettingsError, match="TOKEN_TTL_SECONDS"):
        TokenSettings.from_env({"TOKEN_TTL_SECONDS": "3600"})
    with pytest.raises(SettingsError, match="TOKEN_SERVICE_PORT"):
        TokenSettings.from_env({"TOKEN_SERVICE_PORT": "http"})
    custom = TokenSettings.from_env(
        {"TOKEN_TTL_SECONDS": "900", "TOKEN_SERVICE_HOST": "0.0.0.0", "TOKEN_SERVICE_PORT": "9000"}
    )
    assert (custom.ttl, custom.host, custom.port) == (timedelta(minutes=15), "0.0.0.0", 9000)


def test_sliding_window_limiter() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(3, 60, clock=lambda: now[0], sweep_above=2)
    for t in (0.0, 10.0, 20.0):
        now[0] = t
        assert limiter.retry_after("a") == 0
        limiter.record("a")
    now[0] = 30.0
    assert limiter.retry_after("a") == pytest.approx(30.0)  # oldest event leaves at t=60
    assert limiter.retry_after("b") == 0
    now[0] = 60.0
    assert limiter.retry_after("a") == 0  # a sliding window: one slot free again
    limiter.record("a")
    assert limiter.retry_after("a") == pytest.approx(10.0)
    now[0] = 200.0
    limiter.record("b")
    limiter.record("c")  # table over sweep_above: stale "a" is dropped
    assert len(limiter) == 2
