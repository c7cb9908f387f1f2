"""The local LiveKit stack: a pinned livekit-server built from its Go module, the Agent
Server and the token service, started as real processes on loopback.

Used by `./dev stack` (a developer's whole stack in one command), by the end-to-end tests
(each run on free ports) and by the transport benchmarks."""

from .livekit_server import (
    LIVEKIT_SERVER_VERSION,
    LiveKitServer,
    LiveKitServerMissing,
    ensure_livekit_server,
    find_livekit_server,
)
from .processes import AgentWorker, ManagedProcess, TokenService, free_port

__all__ = [
    "LIVEKIT_SERVER_VERSION",
    "AgentWorker",
    "LiveKitServer",
    "LiveKitServerMissing",
    "ManagedProcess",
    "TokenService",
    "ensure_livekit_server",
    "find_livekit_server",
    "free_port",
]
