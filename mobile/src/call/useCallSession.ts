import {
  DisconnectReason,
  ParticipantKind,
  RoomEvent,
  type Participant,
  type Room,
} from 'livekit-client';
import { useCallback, useEffect, useReducer, useRef, useState } from 'react';

import { isExpired, type CallCredentials } from '../api/tokenClient';
import { defaultAudioSession } from '../livekit/audioSession';
import { createVoiceRoom } from '../livekit/room';
import {
  AGENT_FAILURES,
  AGENT_JOIN_TIMEOUT_MS,
  callReducer,
  initialCallState,
  type CallState,
} from './callState';
import {
  connectErrorNeedsSignIn,
  describeConnectError,
  describeMicrophoneError,
} from './connectError';

export const CHAT_TOPIC = 'lk.chat';

/** The part of @livekit/react-native's AudioSession this hook drives. */
export interface AudioSessionControl {
  startAudioSession: () => Promise<void>;
  stopAudioSession: () => Promise<void>;
}

export interface UseCallSessionOptions {
  credentials: CallCredentials;
  /** Injected in tests; the app uses a fresh voice-only Room. */
  createRoom?: () => Room;
  audioSession?: AudioSessionControl;
  /** Join as soon as the screen mounts (default true). */
  autoConnect?: boolean;
  /** How long to wait for the agent to join (or come back after leaving) before failing. */
  agentJoinTimeoutMs?: number;
}

export interface CallSession {
  room: Room;
  state: CallState;
  isMuted: boolean;
  muteBusy: boolean;
  micError: string | null;
  connect: () => Promise<void>;
  disconnect: () => Promise<void>;
  toggleMute: () => Promise<void>;
  /** Type to the agent on `lk.chat` (what LiveKit Agents' RoomIO reads as user input). */
  sendChat: (text: string) => Promise<void>;
  dismissNotice: () => void;
}

function hasAgent(room: Room): boolean {
  for (const participant of room.remoteParticipants.values()) {
    if (participant.kind === ParticipantKind.AGENT) return true;
  }
  return false;
}

export const SESSION_EXPIRED_MESSAGE = 'Your sign-in has expired. Sign in again to call.';

export function useCallSession({
  credentials,
  createRoom = createVoiceRoom,
  audioSession = defaultAudioSession,
  autoConnect = true,
  agentJoinTimeoutMs = AGENT_JOIN_TIMEOUT_MS,
}: UseCallSessionOptions): CallSession {
  const [room] = useState(createRoom);
  const [state, dispatch] = useReducer(callReducer, undefined, (): CallState => {
    if (!autoConnect) return initialCallState;
    if (isExpired(credentials)) {
      return {
        ...initialCallState,
        phase: 'failed',
        error: SESSION_EXPIRED_MESSAGE,
        signInRequired: true,
      };
    }
    return { ...initialCallState, phase: 'connecting' };
  });
  const [isMuted, setMuted] = useState(false);
  const [muteBusy, setMuteBusy] = useState(false);
  const [micError, setMicError] = useState<string | null>(null);
  const audioActive = useRef(false);
  const mounted = useRef(true);
  const phaseRef = useRef(state.phase);
  useEffect(() => {
    phaseRef.current = state.phase;
  }, [state.phase]);

  const startAudio = useCallback(async () => {
    if (audioActive.current) return;
    await audioSession.startAudioSession();
    audioActive.current = true;
  }, [audioSession]);

  const stopAudio = useCallback(async () => {
    if (!audioActive.current) return;
    audioActive.current = false;
    try {
      await audioSession.stopAudioSession();
    } catch {
      // Nothing useful to tell the user; the OS reclaims the session anyway.
    }
  }, [audioSession]);

  // Room lifecycle -> reducer. LiveKit retries on network loss by itself; we surface it.
  useEffect(() => {
    const onReconnecting = () => dispatch({ type: 'reconnecting' });
    const onReconnected = () => dispatch({ type: 'reconnected' });
    const onDisconnected = (reason?: DisconnectReason) => {
      dispatch({ type: 'disconnected', reason });
      void stopAudio();
    };
    room
      .on(RoomEvent.Reconnecting, onReconnecting)
      .on(RoomEvent.SignalReconnecting, onReconnecting)
      .on(RoomEvent.Reconnected, onReconnected)
      .on(RoomEvent.Disconnected, onDisconnected);
    return () => {
      room
        .off(RoomEvent.Reconnecting, onReconnecting)
        .off(RoomEvent.SignalReconnecting, onReconnecting)
        .off(RoomEvent.Reconnected, onReconnected)
        .off(RoomEvent.Disconnected, onDisconnected);
    };
  }, [room, stopAudio]);

  /** Join the room; the caller has already put the reducer into 'connecting'. */
  const join = useCallback(async () => {
    try {
      await startAudio();
      await room.connect(credentials.serverUrl, credentials.participantToken);
    } catch (error) {
      await stopAudio();
      if (mounted.current) {
        dispatch({
          type: 'failed',
          message: describeConnectError(error),
          signInRequired: connectErrorNeedsSignIn(error),
        });
      }
      return;
    }
    if (!mounted.current) return;
    dispatch({ type: 'connected' });
    try {
      await room.localParticipant.setMicrophoneEnabled(true);
    } catch (error) {
      if (mounted.current) {
        setMuted(true);
        setMicError(describeMicrophoneError(error));
      }
    }
  }, [credentials, room, startAudio, stopAudio]);

  const connect = useCallback(async () => {
    if (phaseRef.current === 'connecting' || phaseRef.current === 'connected') return;
    if (isExpired(credentials)) {
      dispatch({ type: 'failed', message: SESSION_EXPIRED_MESSAGE, signInRequired: true });
      return;
    }
    dispatch({ type: 'connect' });
    phaseRef.current = 'connecting';
    setMuted(false);
    setMicError(null);
    await join();
  }, [credentials, join]);

  const disconnect = useCallback(async () => {
    try {
      await room.disconnect();
    } finally {
      await stopAudio();
      if (mounted.current) {
        dispatch({ type: 'disconnected', reason: DisconnectReason.CLIENT_INITIATED });
      }
    }
  }, [room, stopAudio]);

  const toggleMute = useCallback(async () => {
    if (muteBusy || phaseRef.current !== 'connected') return;
    const nextMuted = !isMuted;
    setMuteBusy(true);
    try {
      await room.localParticipant.setMicrophoneEnabled(!nextMuted);
      if (mounted.current) {
        setMuted(nextMuted);
        setMicError(null);
      }
    } catch (error) {
      if (mounted.current) setMicError(describeMicrophoneError(error));
    } finally {
      if (mounted.current) setMuteBusy(false);
    }
  }, [isMuted, muteBusy, room]);

  // No agent, no call: fail with a reason when it never joins or leaves and stays away
  // (a re-dispatched agent may come back within the same window).
  const agentSeen = useRef(false);
  useEffect(() => {
    if (state.phase !== 'connected') return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (hasAgent(room) || !mounted.current) return;
        dispatch({
          type: 'failed',
          message: agentSeen.current ? AGENT_FAILURES.left : AGENT_FAILURES.neverJoined,
        });
        void room.disconnect();
        void stopAudio();
      }, agentJoinTimeoutMs);
    };
    const onJoined = (participant: Participant) => {
      if (participant.kind !== ParticipantKind.AGENT) return;
      agentSeen.current = true;
      clearTimeout(timer);
      dispatch({ type: 'agentJoined' });
    };
    const onLeft = (participant: Participant) => {
      if (participant.kind !== ParticipantKind.AGENT || hasAgent(room)) return;
      dispatch({ type: 'agentLeft' });
      arm();
    };
    if (hasAgent(room)) agentSeen.current = true;
    else arm();
    room.on(RoomEvent.ParticipantConnected, onJoined).on(RoomEvent.ParticipantDisconnected, onLeft);
    return () => {
      clearTimeout(timer);
      room
        .off(RoomEvent.ParticipantConnected, onJoined)
        .off(RoomEvent.ParticipantDisconnected, onLeft);
    };
  }, [state.phase, room, agentJoinTimeoutMs, stopAudio]);

  const sendChat = useCallback(
    async (text: string) => {
      await room.localParticipant.sendText(text, { topic: CHAT_TOPIC });
    },
    [room],
  );

  const dismissNotice = useCallback(() => dispatch({ type: 'dismissNotice' }), []);

  // Join on mount, always leave and release the audio session on unmount.
  useEffect(() => {
    mounted.current = true;
    if (autoConnect && phaseRef.current === 'connecting') void join();
    return () => {
      mounted.current = false;
      void room.disconnect();
      void stopAudio();
    };
    // Run once per screen: connect/room are stable for the life of the call screen.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  return {
    room,
    state,
    isMuted,
    muteBusy,
    micError,
    connect,
    disconnect,
    toggleMute,
    sendChat,
    dismissNotice,
  };
}
