"""The aiohttp app: `POST /api/token` (customer number + PIN -> LiveKit join token).

The token is the app channel's proof of identity: the agent trusts the participant
attributes `bank.customer_id` / `bank.auth` because this service signed them and the
participant may not change its own attributes (`can_update_own_metadata=False`).
Neither the PIN nor the token is ever logged."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler
from livekit import api

from tools.db import Database, DatabaseUnavailable, NotFound, VerificationResult
from tools.db.models import VerificationStatus

from .redispatch import WEBHOOK_PATH, Redispatcher
from .settings import TokenSettings
from .throttle import SlidingWindowLimiter, whole_seconds

logger = logging.getLogger("bank.token_service")

DB_KEY = web.AppKey("db", Database)
SETTINGS_KEY = web.AppKey("settings", TokenSettings)
IP_LIMITER_KEY = web.AppKey("ip_limiter", SlidingWindowLimiter)
CUSTOMER_LIMITER_KEY = web.AppKey("customer_limiter", SlidingWindowLimiter)
REDISPATCHER_KEY = web.AppKey("redispatcher", Redispatcher)
REQUEST_ID_KEY = web.RequestKey("request_id", str)
WEBHOOK_MAX_BODY_BYTES = 256 * 1024  # livekit-server's events carry room and participant info

MAX_BODY_BYTES = 4096
MAX_CUSTOMER_NUMBER_LEN = 20
CHANNEL = "app"
AUTH_ATTRIBUTE = "bank.auth"
CUSTOMER_ATTRIBUTE = "bank.customer_id"
INVALID_CREDENTIALS = "The customer number or PIN is incorrect."
_DB_ERRORS = (DatabaseUnavailable, asyncpg.InterfaceError, OSError, TimeoutError)

MAX_JSON_DEPTH = 4  # the login body is one flat object
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Accept",
    "Access-Control-Expose-Headers": "Retry-After, X-Request-Id",
    "Access-Control-Max-Age": "600",
}


def create_app(db: Database, settings: TokenSettings) -> web.Application:
    app = web.Application(
        client_max_size=MAX_BODY_BYTES, middlewares=[_request_id_and_cors, _json_errors]
    )
    app[DB_KEY] = db
    app[SETTINGS_KEY] = settings
    app[IP_LIMITER_KEY] = SlidingWindowLimiter(settings.ip_limit, settings.window_seconds)
    app[CUSTOMER_LIMITER_KEY] = SlidingWindowLimiter(
        settings.customer_limit, settings.window_seconds
    )
    app.router.add_post("/api/token", issue_token)
    app.router.add_get("/healthz", healthz)
    # Webhooks are larger than logins: their own sub-app with its own body limit.
    webhooks = web.Application(client_max_size=WEBHOOK_MAX_BODY_BYTES)
    prefix, _, name = WEBHOOK_PATH.rpartition("/")
    webhooks.router.add_post(f"/{name}", livekit_webhook)
    app.add_subapp(prefix, webhooks)
    app.cleanup_ctx.append(_redispatcher)
    return app


async def _redispatcher(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    livekit = api.LiveKitAPI(settings.server_api_url, settings.api_key, settings.api_secret)
    verifier = api.TokenVerifier(settings.api_key, settings.api_secret)
    receiver = api.WebhookReceiver(verifier)
    redispatcher = Redispatcher(settings.agent_name, receiver, livekit)
    app[REDISPATCHER_KEY] = redispatcher
    yield
    await redispatcher.aclose()  # its watches use the API client closed next
    await livekit.aclose()


async def livekit_webhook(request: web.Request) -> web.Response:
    """livekit-server's signed events; see redispatch.py."""
    return await request.config_dict[REDISPATCHER_KEY].handle(request)


# -- responses --------------------------------------------------------------------------------


def error_response(
    status: int, code: str, message: str, *, retry_after: int | None = None
) -> web.Response:
    body: dict[str, Any] = {"error": code, "message": message}
    headers: dict[str, str] = {"Cache-Control": "no-store"}
    if retry_after is not None:
        body["retry_after_seconds"] = retry_after
        headers["Retry-After"] = str(retry_after)
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def _request_id_and_cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS only for the configured origins (TOKEN_SERVICE_ALLOWED_ORIGINS), echoed exactly,
    never `*` and never with credentials. Any other origin gets no CORS headers, so a
    browser keeps the response from the page; its preflight is refused outright."""
    request[REQUEST_ID_KEY] = uuid.uuid4().hex
    origin = request.headers.get("Origin")
    allowed = origin is not None and origin in request.app[SETTINGS_KEY].allowed_origins
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204 if allowed else 403)
    else:
        response = await handler(request)
    if allowed:
        assert origin is not None
        response.headers.update(CORS_HEADERS)
        response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"
    response.headers["X-Request-Id"] = request[REQUEST_ID_KEY]
    return response


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure, including aiohttp's own 404/405/413, as `{"error", "message"}` JSON."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "bad_request"}.get(
            exc.status, "http_error"
        )
        status = 400 if exc.status == 413 else exc.status
        return error_response(status, code, exc.reason)
    except Exception:
        logger.exception("unhandled error", extra={"request_id": request.get(REQUEST_ID_KEY)})
        return error_response(500, "server_error", "Something went wrong. Please try again.")


# -- handlers ---------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def issue_token(request: web.Request) -> web.Response:
    request_id: str = request[REQUEST_ID_KEY]
    settings = request.app[SETTINGS_KEY]
    db = request.app[DB_KEY]

    parsed = await _parse_login(request)
    if isinstance(parsed, web.Response):
        return parsed
    customer_number, pin = parsed

    # Throttle before touching the database: both windows must have room, and an attempt
    # counts against both (rejected attempts do not extend the window).
    ip = _client_ip(request, settings)
    ip_limiter = request.app[IP_LIMITER_KEY]
    customer_limiter = request.app[CUSTOMER_LIMITER_KEY]
    wait = max(ip_limiter.retry_after(ip), customer_limiter.retry_after(customer_number))
    if wait > 0:
        logger.warning("app login throttled", extra={"request_id": request_id})
        return error_response(
            429,
            "throttled",
            "Too many sign-in attempts. Please wait and try again.",
            retry_after=whole_seconds(wait),
        )
    ip_limiter.record(ip)
    customer_limiter.record(customer_number)

    try:
        result = await db.verify_pin(customer_number, pin)
    except _DB_ERRORS:
        logger.warning("app login: database unavailable", extra={"request_id": request_id})
        return _unavailable()

    if result.status is VerificationStatus.VERIFIED and result.customer is not None:
        return _token_response(settings, result)

    if result.status is VerificationStatus.LOCKED:
        retry = _seconds_until(result.locked_until)
        await _record_failure(db, request_id, customer_number, result, ip)
        return error_response(
            423,
            "locked",
            "Sign-in is locked after too many wrong PINs. Please try again later.",
            retry_after=retry,
        )

    # WRONG_PIN and UNKNOWN_CUSTOMER look identical to the client: no enumeration.
    await _record_failure(db, request_id, customer_number, result, ip)
    return error_response(401, "invalid_credentials", INVALID_CREDENTIALS)


async def _parse_login(request: web.Request) -> tuple[str, str] | web.Response:
    # Only application/json: a form or text/plain post is what a cross-site page can send
    # without a CORS preflight.
    if request.content_type != "application/json":
        return error_response(
            415, "unsupported_media_type", "The request body must be sent as application/json."
        )
    try:
        # JSON is UTF-8 (RFC 8259): a declared charset is not looked up, so an unknown one
        # ("charset=bogus") is no 500.
        text = (await request.read()).decode("utf-8")
    except UnicodeDecodeError:
        return error_response(400, "bad_request", "The request body must be JSON.")
    if json_depth(text) > MAX_JSON_DEPTH:
        return error_response(400, "bad_request", "The request body is nested too deeply.")
    try:
        body = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return error_response(400, "bad_request", "The request body must be JSON.")
    if not isinstance(body, dict):
        return error_response(400, "bad_request", "The request body must be a JSON object.")
    customer_number = body.get("customer_number")
    pin = body.get("pin")
    if not isinstance(customer_number, str) or not isinstance(pin, str):
        return error_response(
            400, "bad_request", "Both customer_number and pin are required, as strings."
        )
    customer_number = customer_number.strip()
    if not (
        customer_number.isascii()
        and customer_number.isdigit()
        and len(customer_number) <= MAX_CUSTOMER_NUMBER_LEN
    ):
        return error_response(400, "bad_request", "The customer number must be digits only.")
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):
        return error_response(400, "bad_request", "The PIN must be 4 to 8 digits.")
    return customer_number, pin


def json_depth(text: str) -> int:
    """How deeply `text` nests arrays and objects, in one linear pass (brackets inside
    strings do not count), so json.loads never recurses into a hostile body."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _token_response(settings: TokenSettings, result: VerificationResult) -> web.Response:
    customer = result.customer
    assert customer is not None
    identity = f"customer-{customer.id}-{secrets.token_hex(4)}"
    room_name = f"bank-{uuid.uuid4()}"
    token = (
        api.AccessToken(settings.api_key, settings.api_secret)
        .with_identity(identity)
        .with_name(customer.first_name)
        .with_ttl(settings.ttl)
        .with_grants(
            api.VideoGrants(
                room_join=True,
                room=room_name,
                can_publish=True,
                can_subscribe=True,
                can_publish_data=True,
                can_update_own_metadata=False,
            )
        )
        .with_attributes({CUSTOMER_ATTRIBUTE: str(customer.id), AUTH_ATTRIBUTE: CHANNEL})
        .with_room_config(
            api.RoomConfiguration(agents=[api.RoomAgentDispatch(agent_name=settings.agent_name)])
        )
        .to_jwt()
    )
    return web.json_response(
        {
            "server_url": settings.livekit_url,
            "participant_token": token,
            "room_name": room_name,
            "identity": identity,
            "customer_name": customer.first_name,
            "expires_in": int(settings.ttl.total_seconds()),
        },
        headers={"Cache-Control": "no-store"},
    )


async def _record_failure(
    db: Database, request_id: str, customer_number: str, result: VerificationResult, ip: str
) -> None:
    """Append a security event. Best effort: the client still gets its 401/423."""
    kind = "app_login_locked" if result.status is VerificationStatus.LOCKED else "app_login_failed"
    try:
        # Looked up for unknown and wrong-PIN alike so both paths cost the same.
        try:
            customer_id: int | None = (await db.customer_by_number(customer_number)).id
        except NotFound:
            customer_id = None
        detail = f"status={result.status.value} customer_number={customer_number} ip={ip}"
        await db.record_security_event(
            session_id=request_id,
            customer_id=customer_id,
            kind=kind,
            detail=detail,
            channel=CHANNEL,
        )
    except _DB_ERRORS:
        logger.warning("could not record security event", extra={"request_id": request_id})


def _unavailable() -> web.Response:
    return error_response(
        503, "unavailable", "Sign-in is temporarily unavailable. Please try again shortly."
    )


def _seconds_until(when: datetime | None) -> int:
    if when is None:
        return 60
    return whole_seconds((when - datetime.now(UTC)).total_seconds())


def _client_ip(request: web.Request, settings: TokenSettings) -> str:
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first
    return request.remote or "unknown"


async def run(settings: TokenSettings, dsn: str) -> None:
    """Serve until cancelled (used by `python -m token_service`)."""
    db = await Database.connect(dsn)
    runner = web.AppRunner(create_app(db, settings))
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        logger.info("token service listening on http://%s:%s", settings.host, settings.port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # `docker stop` sends SIGTERM
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
        await db.close()
