"""The Agent Server: `python agent.py console --text | dev | start | download-files`.

Thin on purpose: work out the channel, build the SessionState, pick the models, start the
session with the Greeter (or resume a checkpointed call), and clean up at the end."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
import sys
import threading
import types
from typing import Any

from livekit import rtc
from livekit.agents import AgentServer, JobContext, JobProcess, cli, room_io
from livekit.agents.types import NOT_GIVEN
from livekit.agents.worker import ServerEnvOption

# Imported here, on the main thread: livekit registers plugins only there, and the console
# runs prewarm on a thread, where importing silero raised.
from livekit.plugins import silero

from agents import AGENTS, Greeter, new_session
from agents.app_confirm import AppConfirmation, room_rpc
from agents.base import configure_voices
from agents.keypad import confirm_by_keypad, verify_keyed_pin
from agents.latency import TurnLatency
from agents.opening import keep_agent_state_published
from agents.resume import resume_for
from agents.verification import bind_principal
from handoffs import CallbackEscalation, SipTransferEscalation
from models import ConfigError, Models, build_models, choose_mode
from models.local_models import (
    check_local_models,
    download_all_files,
    load_local_speech,
    register_download_plugin,
)
from shared_state import Assurance, CallerHints, SessionState
from telephony.channel import CallerInfo, detect_channel
from telephony.dtmf import DtmfPinCollector, key_of
from telephony.warm_transfer import WarmTransferEscalation
from token_service.redispatch import REDISPATCH_METADATA
from tools.db import Database, NotFound, database_url

logger = logging.getLogger("bank.server")

AGENT_NAME = "bank-support"
SPECIALIST_ATTRIBUTE = "bank.specialist"


def prewarm(proc: JobProcess) -> None:
    """Once per job process: validate configuration early and load what runs locally: the
    VAD (pipeline and local modes) and, in local mode, Whisper and Piper, so no call
    reloads them (the offline and realtime modes need neither)."""
    mode = choose_mode()
    proc.userdata["mode"] = mode
    if mode in ("pipeline", "local"):
        proc.userdata["vad"] = silero.VAD.load()
    if mode == "local":
        proc.userdata["speech"] = load_local_speech()


# Calls one worker carries before it reports itself full, per mode: local speech models
# share the CPU, so about one call per core; the others mostly wait on the network.
DEFAULT_MAX_CALLS = {"offline": 40, "local": os.cpu_count() or 1, "pipeline": 25, "realtime": 25}


def call_load(_server: AgentServer) -> float:
    """A worker's load is its share of the calls it can carry (BANK_MAX_CALLS_PER_WORKER),
    not livekit's default, the CPU of the whole machine: that reads any other process's
    work (Postgres, a co-located livekit-server, a second worker) as this worker being
    full, and livekit-server then dispatches a new call to nobody and never retries."""
    configured = os.environ.get("BANK_MAX_CALLS_PER_WORKER")
    limit = int(configured) if configured else DEFAULT_MAX_CALLS.get(choose_mode(), 25)
    return min(1.0, len(_server.active_jobs) / max(limit, 1))


# Local mode loads Whisper, Piper and the VAD in prewarm: seconds on a busy CPU, more than
# livekit's 10 s default allows there.
# One process kept warm even in dev mode (livekit's dev default is none): a cold job process
# imports livekit and loads the speech models before it can greet, which on a busy machine
# kept the first caller of `./dev stack` waiting half a minute for the agent to join.
IDLE_PROCESSES = ServerEnvOption(dev_default=1, prod_default=math.ceil(os.cpu_count() or 1))

server = AgentServer(
    setup_fnc=prewarm,
    load_fnc=call_load,
    initialize_process_timeout=60.0,
    num_idle_processes=IDLE_PROCESSES,
)


@server.rtc_session(agent_name=AGENT_NAME)
async def entrypoint(ctx: JobContext) -> None:
    mode = ctx.proc.userdata.get("mode") or choose_mode()
    models = build_models(
        mode, vad=ctx.proc.userdata.get("vad"), speech=ctx.proc.userdata.get("speech")
    )
    configure_voices(models.voice_for if models.has_voice else None)

    db = await Database.connect(await asyncio.to_thread(database_url))
    ctx.add_shutdown_callback(db.close)

    participant = None if ctx.is_fake_job() else await _first_caller(ctx)
    caller = detect_channel(participant)
    state = await _build_state(ctx, db, caller)

    session = new_session(
        state,
        llm=models.llm,
        stt=models.stt,
        tts=models.tts,
        vad=models.vad,
        turn_detection=models.turn_detection,
    )
    state.on_agent_changed = _publisher(ctx)
    transfer_to = os.environ.get("HUMAN_TRANSFER_TO")
    if caller.channel == "sip" and transfer_to and os.environ.get("HUMAN_TRANSFER_MODE") == "warm":
        state.escalation = WarmTransferEscalation(
            transfer_to=transfer_to,
            trunk_id=os.environ.get("LIVEKIT_SIP_OUTBOUND_TRUNK"),
            say=lambda text: session.say(text),
            leave=lambda: session.shutdown(),  # the room stays: the caller is in it
            hold_audio=models.speaks,
        )
    elif caller.channel == "sip" and caller.participant_identity:
        state.escalation = SipTransferEscalation(
            participant_identity=caller.participant_identity,
            transfer_to=os.environ.get("HUMAN_TRANSFER_TO"),
            transfer=lambda identity, to: ctx.transfer_sip_participant(identity, to),
        )
    else:
        state.escalation = CallbackEscalation()

    if ctx.is_fake_job():
        _show_opening_in_console(session, state)
        if sys.argv[1:2] == ["console"]:  # the CLI's console only, never a simulated job
            session.on("close", _end_console)
    latency = TurnLatency()
    latency.watch_stt(models.stt)
    ctx.add_shutdown_callback(lambda: _report(ctx, session, state, latency))
    first_agent = AGENTS.get(state.current_agent or "greeter", Greeter)()
    await session.start(first_agent, room=ctx.room, room_options=_room_options(models, caller))

    if not ctx.is_fake_job():
        state.tasks.start(keep_agent_state_published(session, ctx.room), watcher=True)
    if caller.channel == "app" and caller.participant_identity:
        # The app's Confirm / Cancel sheet answers a card write's read-back (RPC to the caller).
        AppConfirmation(session, state, caller.participant_identity, room_rpc(ctx.room)).attach()
    if caller.channel == "sip" and state.caller.candidate_customer_id and not state.is_verified:
        _watch_keypad(ctx, session, state, caller)
    if caller.channel == "sip":
        # Keypad 1 / 2 answers a card write's read-back (the PIN collector runs only before
        # verification, and no write is pending then), in a task the call drains at its end.
        def _on_key(event: Any) -> None:
            key = key_of(event, caller.participant_identity)
            if key is not None and state.pending_confirmation is not None:
                state.tasks.start(confirm_by_keypad(session, state, key))

        ctx.room.on("sip_dtmf_received", _on_key)


def _room_options(models: Models, caller: CallerInfo) -> room_io.RoomOptions:
    """Audio in and out only when the models can hear and speak. A keyless text model in
    a real room talks over `lk.chat` in and `lk.transcription` out, as LiveKit's own clients
    do; with audio output on and no TTS, livekit would raise on the greeter's first words."""
    return room_io.RoomOptions(
        audio_input=models.hears,
        audio_output=models.speaks,
        # The session listens to the caller this job was started for, not whoever joins.
        participant_identity=caller.participant_identity or NOT_GIVEN,
    )


async def _first_caller(ctx: JobContext) -> rtc.RemoteParticipant:
    await ctx.connect()
    return await ctx.wait_for_participant()


async def _build_state(ctx: JobContext, db: Database, caller: CallerInfo) -> SessionState:
    room = ctx.room.name if not ctx.is_fake_job() else None
    if room is not None:
        # A restarted worker picks the call up where it was (same desk, same principal), but
        # only for the caller who created the checkpoint; anyone else starts fresh.
        resumed = await resume_for(db, room, caller)
        if resumed is not None:
            resumed.resumed = True
            logger.info("resumed call from checkpoint", extra={"agent": resumed.current_agent})
            return resumed
    state = SessionState(
        db=db,
        channel=caller.channel,
        room_name=room,
        caller=CallerHints(
            phone_number=caller.phone_number,
            participant_identity=caller.participant_identity,
        ),
    )
    if room is not None and ctx.job.metadata == REDISPATCH_METADATA:
        # Re-dispatched after a lost worker, before any checkpoint: say so, don't greet anew.
        state.greeted = state.resumed = True
    if caller.channel == "sip" and caller.phone_number:
        candidate = await db.customer_by_phone(caller.phone_number)
        state.caller.candidate_customer_id = candidate.id if candidate else None
    if caller.is_app_authenticated and caller.app_customer_id is not None:
        # The token service signed this claim; the participant cannot change it.
        try:
            customer = await db.customer_by_id(caller.app_customer_id)
        except NotFound:
            logger.warning("app token names an unknown customer; treating as unverified")
        else:
            state.caller.app_user = customer.customer_number
            bind_principal(state, customer, Assurance.APP_AUTH)
    return state


def _show_opening_in_console(session: Any, state: SessionState) -> None:
    """The text console prints only what follows a typed line; the greeter's opening words
    come before any, so show them here."""

    def _print_opening(ev: Any) -> None:
        item = ev.item
        if state.user_turns == 0 and getattr(item, "role", None) == "assistant":
            print(f"\n  \u25cf Agent\n    {item.text_content}\n", flush=True)

    session.on("conversation_item_added", _print_opening)


def _end_console(_: Any) -> None:
    """The console demo ends with its call ("goodbye" runs livekit's end_call, which closes
    the session); livekit's console would otherwise wait for Ctrl+C, so press it for them."""
    # A moment first: the console prints the goodbye after the session has closed.
    # (a thread: the job's event loop is stopping by then)
    threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT)).start()


def _publisher(ctx: JobContext) -> Any:
    async def publish(agent_id: str) -> None:
        if ctx.is_fake_job():
            print(f"\n  >>> now speaking: {agent_id.replace('_', ' ')} desk\n", flush=True)
            return
        await ctx.room.local_participant.set_attributes({SPECIALIST_ATTRIBUTE: agent_id})

    return publish


def _watch_keypad(ctx: JobContext, session: Any, state: SessionState, caller: CallerInfo) -> None:
    async def watch() -> None:
        collector = DtmfPinCollector(ctx.room, participant_identity=caller.participant_identity)
        while not state.is_verified and state.verification_attempts < 5:
            pin = await collector.collect(timeout=120)
            if pin is None:
                return
            await verify_keyed_pin(session, state, pin)

    state.tasks.start(watch(), watcher=True)


async def _report(
    ctx: JobContext, session: Any, state: SessionState, latency: TurnLatency | None = None
) -> None:
    """End of call: the call's background work drained (the keypad watcher stopped, every
    write waited for), audit flushed, usage and per-turn metrics to the logs (no PII)."""
    await state.tasks.drain()
    if state.audit is not None:
        await state.audit.flush()
    try:
        report = ctx.make_session_report()
        usage = getattr(report, "usage", None) or getattr(session, "usage", None)
    except Exception:
        usage = getattr(session, "usage", None)
    logger.info(
        "session finished",
        extra={
            "session_id": state.session_id,
            "handoffs": len(state.handoff_history),
            "channel": state.channel,
            "usage": str(usage)[:500],
            # livekit's per-turn metrics, p50/max: eou_delay, stt_duration, llm_ttft, ...
            "latency": latency.summary(session.history) if latency is not None else {},
        },
    )


def _ensure_sounddevice() -> None:
    """The console imports sounddevice even in text mode; without PortAudio (headless
    boxes, CI) that import fails, so stand in an empty module for text mode."""
    try:
        import sounddevice  # noqa: F401
    except OSError:
        sys.modules["sounddevice"] = types.ModuleType("sounddevice")


def _hide_cli_deprecation() -> None:
    """The demo is for someone meeting the bank desk, not livekit's CLI roadmap: drop the
    console's "Deprecated" notice (a tagged print, not a log record)."""
    from livekit.agents.cli import _legacy

    show = _legacy.AgentsConsole.print

    def print_unless_deprecation(
        self: _legacy.AgentsConsole, child: Any, *, tag: str = "", tag_style: Any = None
    ) -> None:
        if tag != "Deprecated":
            show(self, child, tag=tag, tag_style=tag_style)

    _legacy.AgentsConsole.print = print_unless_deprecation  # type: ignore[method-assign]


if __name__ == "__main__":
    console = sys.argv[1:2] == ["console"]
    typed_only = console and ("--text" in sys.argv or not sys.stdin.isatty())
    try:
        if typed_only:
            # A typed console has no audio: keyless, that is the offline model, text only.
            os.environ.setdefault("BANK_MODEL_MODE", choose_mode(text_only=True))
        if choose_mode() == "local" and sys.argv[1:2] != ["download-files"]:
            check_local_models()  # a missing model stops the start here, in one line
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if console and not sys.stdin.isatty():
        # No terminal (piped input): same session and agents, one caller line per line.
        from agents.plain_console import run_plain_console

        mode = choose_mode()
        asyncio.run(run_plain_console(build_models(mode).llm))
        raise SystemExit(0)
    register_download_plugin()  # `download-files` fetches the local Whisper and Piper models
    if sys.argv[1:2] == ["download-files"]:
        raise SystemExit(download_all_files())
    _ensure_sounddevice()
    if sys.argv[1:2] == ["console"]:
        _hide_cli_deprecation()
    cli.run_app(server)
