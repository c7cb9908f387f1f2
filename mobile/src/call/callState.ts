import { DisconnectReason } from 'livekit-client';

/** Lifecycle of the customer's connection to the LiveKit room. */
export type CallPhase = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'ended' | 'failed';

export interface CallState {
  phase: CallPhase;
  /** Short banner for the user about the connection (reconnecting, reconnected, ended...). */
  notice: string | null;
  /** Set when the call could not start or was dropped for a reason the user should know. */
  error: string | null;
  /** How many times the connection recovered during this call. */
  reconnects: number;
  /** The failure means this sign-in no longer works: offer "Sign in again", not "Call again". */
  signInRequired: boolean;
}

export type CallAction =
  | { type: 'connect' }
  | { type: 'connected' }
  | { type: 'reconnecting' }
  | { type: 'reconnected' }
  | { type: 'disconnected'; reason?: DisconnectReason }
  | { type: 'failed'; message: string; signInRequired?: boolean }
  | { type: 'agentLeft' }
  | { type: 'agentJoined' }
  | { type: 'dismissNotice' };

export const initialCallState: CallState = {
  phase: 'idle',
  notice: null,
  error: null,
  reconnects: 0,
  signInRequired: false,
};

/** LiveKit's starter app gives up on an agent after about 20 s; so do we. */
export const AGENT_JOIN_TIMEOUT_MS = 20_000;

export const NOTICES = {
  reconnecting: 'Connection lost. Reconnecting…',
  reconnected: 'Connection restored.',
  agentLeft: 'The assistant dropped off the call. Waiting for it to come back…',
} as const;

export const AGENT_FAILURES = {
  neverJoined: "The assistant didn't join the call. Please call again.",
  left: "The assistant left the call and didn't come back. Please call again.",
} as const;

/** What to tell the customer when the room disconnects. Null = they hung up themselves. */
export function describeDisconnect(reason: DisconnectReason | undefined): string | null {
  switch (reason) {
    case DisconnectReason.CLIENT_INITIATED:
      return null;
    case DisconnectReason.ROOM_DELETED:
    case DisconnectReason.ROOM_CLOSED:
      return 'The support call has ended.';
    case DisconnectReason.PARTICIPANT_REMOVED:
      return 'You were removed from the call.';
    case DisconnectReason.DUPLICATE_IDENTITY:
      return 'You joined this call from another device, so this one was disconnected.';
    case DisconnectReason.SERVER_SHUTDOWN:
      return 'The support service restarted. Please call again.';
    case DisconnectReason.JOIN_FAILURE:
      return "We couldn't join the support call. Please try again.";
    case DisconnectReason.SIGNAL_CLOSE:
    case DisconnectReason.STATE_MISMATCH:
    case DisconnectReason.UNKNOWN_REASON:
    case undefined:
    default:
      return "The connection was lost and we couldn't reconnect. Check your network and call again.";
  }
}

export function callReducer(state: CallState, action: CallAction): CallState {
  switch (action.type) {
    case 'connect':
      return { ...initialCallState, phase: 'connecting' };
    case 'connected':
      if (state.phase === 'ended' || state.phase === 'failed') return state;
      return { ...state, phase: 'connected', error: null };
    case 'reconnecting':
      if (state.phase !== 'connected' && state.phase !== 'reconnecting') return state;
      return { ...state, phase: 'reconnecting', notice: NOTICES.reconnecting };
    case 'reconnected':
      if (state.phase !== 'reconnecting') return state;
      return {
        ...state,
        phase: 'connected',
        notice: NOTICES.reconnected,
        reconnects: state.reconnects + 1,
      };
    case 'disconnected': {
      if (state.phase === 'idle' || state.phase === 'failed') return state;
      const message = describeDisconnect(action.reason);
      return { ...state, phase: 'ended', notice: null, error: message };
    }
    case 'failed':
      return {
        ...state,
        phase: 'failed',
        notice: null,
        error: action.message,
        signInRequired: action.signInRequired ?? false,
      };
    case 'agentLeft':
      if (state.phase !== 'connected') return state;
      return { ...state, notice: NOTICES.agentLeft };
    case 'agentJoined':
      return state.notice === NOTICES.agentLeft ? { ...state, notice: null } : state;
    case 'dismissNotice':
      return { ...state, notice: null };
    default:
      return state;
  }
}

/** The agent states LiveKit Agents publish via `lk.agent.state`, plus client-side ones. */
export type AgentStateLike =
  | 'disconnected'
  | 'connecting'
  | 'pre-connect-buffering'
  | 'failed'
  | 'initializing'
  | 'idle'
  | 'listening'
  | 'thinking'
  | 'speaking';

export type CallStatusKey =
  | 'idle'
  | 'connecting'
  | 'reconnecting'
  | 'waiting'
  | 'listening'
  | 'thinking'
  | 'speaking'
  | 'ended'
  | 'failed';

export interface CallStatus {
  key: CallStatusKey;
  label: string;
}

const STATUS_LABELS: Record<CallStatusKey, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  waiting: 'Waiting for the assistant…',
  listening: 'Listening',
  thinking: 'Thinking…',
  speaking: 'Speaking',
  ended: 'Call ended',
  failed: 'Call failed',
};

/** Combine our connection phase with the agent's own state into one status for the UI. */
export function deriveCallStatus(
  phase: CallPhase,
  agentState: AgentStateLike | string | undefined,
): CallStatus {
  let key: CallStatusKey;
  switch (phase) {
    case 'idle':
    case 'connecting':
    case 'reconnecting':
    case 'ended':
    case 'failed':
      key = phase;
      break;
    case 'connected':
    default:
      switch (agentState) {
        case 'listening':
        case 'thinking':
        case 'speaking':
          key = agentState;
          break;
        case 'disconnected':
        case 'connecting':
          // Room is up but the agent has not joined / published its state yet.
          key = 'waiting';
          break;
        case 'failed':
          key = 'failed';
          break;
        default:
          key = 'waiting';
      }
  }
  return { key, label: STATUS_LABELS[key] };
}
