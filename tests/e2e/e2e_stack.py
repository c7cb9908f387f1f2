"""What an end-to-end test holds of the running stack."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_stack import AgentWorker, LiveKitServer, TokenService
from tools.db import APP_LOGIN, login_as


@dataclass
class Stack:
    livekit: LiveKitServer
    token_service: TokenService
    dsn: str
    logs: Path

    def login(self, customer_number: str, pin: str) -> dict[str, Any]:
        """POST /api/token as the app does; returns the JSON body (raises on non-200)."""
        return post_json(
            f"{self.token_service.base_url}/api/token",
            {"customer_number": customer_number, "pin": pin},
        )

    def stop(self) -> None:
        self.token_service.stop()
        self.livekit.stop()

    def worker(self, name: str, **env: str) -> AgentWorker:
        """An Agent Server process registered with this stack's livekit-server."""
        return AgentWorker(
            self.livekit.url,
            self.livekit.api_key,
            self.livekit.api_secret,
            login_as(self.dsn, APP_LOGIN),  # the processes log in as the application does
            log_path=self.logs / f"{name}.log",
            extra_env={"BANK_MODEL_MODE": "offline", **env},
        )


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result
