"""The token service's sign-in rules against the cases the app is tested on too
(tests/data/credential_rules.json; mobile/__tests__/credentialRules.test.ts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from token_service import TokenSettings, create_app
from tools.db import Database

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "credential_rules.json").read_text()
)["cases"]
# Throttling is not under test here: every case gets an answer about its fields.
SETTINGS = TokenSettings(
    livekit_url="ws://localhost:7880",
    api_key="rules-key",
    api_secret="rules-secret-long-enough-for-hs256-signing",
    ip_limit=1000,
    customer_limit=1000,
)
FIELD_WORDS = {"customer_number": "customer number", "pin": "PIN"}


@pytest.mark.parametrize(
    "case", CASES, ids=[json.dumps([c["customer_number"], c["pin"]]) for c in CASES]
)
async def test_token_service_applies_the_shared_rules(db: Database, case: dict[str, Any]) -> None:
    async with TestClient(TestServer(create_app(db, SETTINGS))) as client:
        response = await client.post(
            "/api/token", json={"customer_number": case["customer_number"], "pin": case["pin"]}
        )
        body = await response.json()
    if case["valid"]:
        # Well-formed: the answer is about the credentials (200 or 401), never the format.
        assert response.status in (200, 401), body
    else:
        assert response.status == 400, body
        assert body["error"] == "bad_request"
        assert FIELD_WORDS[case["field"]] in body["message"]
