"""The token service's request hygiene and the no-enumeration rule, over loopback HTTP:
only application/json, bounded nesting (never a 500 or a traceback), CORS only for the
configured origins, and an unknown customer number that answers exactly like a real one,
lockout included."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from token_service import SettingsError, TokenSettings, create_app
from token_service.app import json_depth
from tools.db import Database

KEY = "test-api-key"
SECRET = "test-api-secret-that-is-long-enough-for-hs256"
APP_ORIGIN = "http://127.0.0.1:19006"


def _settings(**kwargs: Any) -> TokenSettings:
    return TokenSettings(
        livekit_url="ws://localhost:7880", api_key=KEY, api_secret=SECRET, **kwargs
    )


async def _post(client: TestClient, body: Any, **headers: str) -> tuple[int, dict[str, Any], Any]:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    resp = await client.post("/api/token", data=data, headers=headers)
    return resp.status, await resp.json(), resp.headers


async def test_only_application_json_is_accepted(db: Database) -> None:
    body = {"customer_number": "1001", "pin": "1234"}
    async with TestClient(TestServer(create_app(db, _settings()))) as client:
        for content_type in ("text/plain", "application/x-www-form-urlencoded",
                             "multipart/form-data; boundary=x", "text/json", ""):  # fmt: skip
            status, payload, _ = await _post(client, body, **{"Content-Type": content_type})
            assert status == 415, content_type
            assert payload["error"] == "unsupported_media_type"
        status, payload, _ = await _post(
            client, body, **{"Content-Type": "application/json; charset=utf-8"}
        )
        assert status == 200, payload


@pytest.mark.parametrize("depth", [5, 50, 2000])
async def test_deep_nesting_is_a_clean_400(db: Database, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    async with TestClient(TestServer(create_app(db, _settings()))) as client:
        for text in (nested, '{"customer_number": ' + nested + ', "pin": "1234"}'):
            status, payload, _ = await _post(client, text, **{"Content-Type": "application/json"})
            assert status == 400, payload
            assert set(payload) == {"error", "message"}
            assert "Traceback" not in json.dumps(payload)


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth('{"a": "[[[[[[[[", "b": "\\"[[["}') == 1
    assert json_depth('{"a": [{"b": [1]}]}') == 4
    assert json_depth("[" * 100) == 100


async def test_cors_only_for_configured_origins(db: Database) -> None:
    settings = _settings(allowed_origins=frozenset({APP_ORIGIN}))
    body = {"customer_number": "1001", "pin": "1234"}
    async with TestClient(TestServer(create_app(db, settings))) as client:
        preflight = {"Access-Control-Request-Method": "POST"}
        resp = await client.options("/api/token", headers={"Origin": APP_ORIGIN, **preflight})
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
        assert "Origin" in resp.headers["Vary"]
        resp = await client.options(
            "/api/token", headers={"Origin": "https://evil.example", **preflight}
        )
        assert resp.status == 403
        assert "Access-Control-Allow-Origin" not in resp.headers
        status, _, headers = await _post(
            client, body, **{"Content-Type": "application/json", "Origin": "https://evil.example"}
        )
        assert "Access-Control-Allow-Origin" not in headers
        status, _, headers = await _post(
            client, body, **{"Content-Type": "application/json", "Origin": APP_ORIGIN}
        )
        assert status == 200 and headers["Access-Control-Allow-Origin"] == APP_ORIGIN
        assert "Access-Control-Allow-Credentials" not in headers


def test_allowed_origins_setting() -> None:
    env = {
        "LIVEKIT_URL": "wss://x.livekit.cloud",
        "LIVEKIT_API_KEY": "k",
        "LIVEKIT_API_SECRET": "s",
    }
    assert TokenSettings.from_env(env).allowed_origins == frozenset()
    assert TokenSettings.from_env({}).allowed_origins == {
        "http://localhost:8081",
        "http://127.0.0.1:8081",
    }
    configured = TokenSettings.from_env(
        {**env, "TOKEN_SERVICE_ALLOWED_ORIGINS": f" {APP_ORIGIN}/ , https://app.example.com"}
    )
    assert configured.allowed_origins == {APP_ORIGIN, "https://app.example.com"}
    assert TokenSettings.from_env({"TOKEN_SERVICE_ALLOWED_ORIGINS": ""}).allowed_origins == set()
    for bad in ("*", "app.example.com", "https://app.example.com/login", "ftp://x"):
        with pytest.raises(SettingsError, match="TOKEN_SERVICE_ALLOWED_ORIGINS"):
            TokenSettings.from_env({**env, "TOKEN_SERVICE_ALLOWED_ORIGINS": bad})


async def test_unknown_number_and_real_number_answer_alike_through_lockout(db: Database) -> None:
    """Three wrong attempts lock a real customer number (423); an unknown number now gets
    exactly the same answers, attempt for attempt, status, body and Retry-After."""
    settings = _settings(customer_limit=100, ip_limit=100)
    async with TestClient(TestServer(create_app(db, settings))) as client:
        answers: dict[str, list[tuple[int, dict[str, Any]]]] = {"1004": [], "777777": []}
        for number, seen in answers.items():
            for pin in ("0000", "0001", "0002", "0003"):
                status, payload, headers = await _post(
                    client,
                    {"customer_number": number, "pin": pin},
                    **{"Content-Type": "application/json"},
                )
                payload.pop("retry_after_seconds", None)
                seen.append((status, payload))
                assert ("Retry-After" in headers) == (status == 423)
    assert answers["1004"] == answers["777777"]
    assert [status for status, _ in answers["1004"]] == [401, 401, 423, 423]


async def test_by_voice_unknown_number_answers_like_a_real_one(db: Database) -> None:
    from core_helpers import ToolCall, desk, outputs_of

    said: dict[str, list[str]] = {}
    for number in ("1004", "777777"):
        async with desk(db) as d:
            said[number] = []
            for pin in ("0000", "0001", "0002", "0003"):
                result = await d.say(
                    f"{number}, PIN {pin}",
                    ToolCall("verify_identity", {"customer_number": number, "pin": pin}),
                    "Hmm.",
                )
                said[number].append(str(outputs_of(result)[0].output))
    assert said["1004"] == said["777777"]
    assert "locked" in said["777777"][2] and "locked" not in said["777777"][1]


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        (
            "/api/token",
            b'{"customer_number": "1001", "pin": "1234"}',
            "application/json; charset=x",
        ),
        ("/api/token", b'{"customer_number": "1001", "pin": "\xff\xfe"}', "application/json"),
        ("/livekit/webhook", b'{"event": "room_finished"}', "application/webhook+json; charset=x"),
        ("/livekit/webhook", b'{"event": "\xff\xfe"}', "application/webhook+json"),
    ],
)
async def test_undecodable_bodies_are_no_500(
    db: Database, path: str, body: bytes, content_type: str
) -> None:
    """A charset that does not exist, or bytes that are not UTF-8, are the client's
    mistake: a 4xx (or the login itself, JSON being UTF-8), never a 500 with a traceback
    logged for every such request."""
    async with TestClient(TestServer(create_app(db, _settings()))) as client:
        resp = await client.post(
            path, data=body, headers={"Content-Type": content_type, "Authorization": "x"}
        )
        assert resp.status < 500, await resp.text()
        payload = await resp.json()
        assert payload.get("error") != "server_error", payload
