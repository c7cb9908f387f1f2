import {
  ConnectionState,
  DisconnectReason,
  ParticipantKind,
  RemoteParticipant,
  Room,
  RoomEvent,
  type RpcInvocationData,
} from 'livekit-client';
import { act } from '@testing-library/react-native';

import type { CallCredentials } from '../../src/api/tokenClient';
import { TOKEN } from './fakeFetch';

type RpcHandler = (data: RpcInvocationData) => Promise<string>;

type TextHandler = (
  reader: AsyncIterable<string> & { info: Record<string, unknown> },
  participantInfo: { identity: string },
) => unknown;

/**
 * A real livekit-client Room that never touches the network: connect/disconnect and
 * microphone publishing are stubbed at the Room boundary, and incoming text-stream
 * handlers are captured so tests can deliver transcriptions.
 */
export function createTestRoom() {
  const room = new Room();
  const textHandlers = new Map<string, TextHandler>();
  const rpcHandlers = new Map<string, RpcHandler>();

  const setConnectionState = (state: ConnectionState) => {
    room.state = state;
    room.emit(RoomEvent.ConnectionStateChanged, state);
  };

  const connect = jest.spyOn(room, 'connect').mockImplementation(async () => {
    setConnectionState(ConnectionState.Connected);
  });
  const disconnect = jest.spyOn(room, 'disconnect').mockImplementation(async () => {
    if (room.state === ConnectionState.Disconnected) return;
    setConnectionState(ConnectionState.Disconnected);
    room.emit(RoomEvent.Disconnected, DisconnectReason.CLIENT_INITIATED);
  });
  const setMicrophoneEnabled = jest
    .spyOn(room.localParticipant, 'setMicrophoneEnabled')
    .mockResolvedValue(undefined);
  const sendText = jest
    .spyOn(room.localParticipant, 'sendText')
    .mockResolvedValue(undefined as never);
  jest
    .spyOn(room, 'registerTextStreamHandler')
    .mockImplementation((topic: string, handler: unknown) => {
      textHandlers.set(topic, handler as TextHandler);
    });
  jest.spyOn(room, 'unregisterTextStreamHandler').mockImplementation((topic: string) => {
    textHandlers.delete(topic);
  });

  jest.spyOn(room, 'registerRpcMethod').mockImplementation((method, handler) => {
    if (rpcHandlers.has(method)) throw new Error(`RPC handler already registered: ${method}`);
    rpcHandlers.set(method, handler);
  });
  jest.spyOn(room, 'unregisterRpcMethod').mockImplementation((method) => {
    rpcHandlers.delete(method);
  });

  let agent: RemoteParticipant | undefined;

  const helpers = {
    room,
    connect,
    disconnect,
    setMicrophoneEnabled,
    sendText,
    setConnectionState,
    /**
     * The agent worker joins the room. `announce: false` is an agent already in the room
     * as we join: livekit-client builds it from the join response while still connecting,
     * and so emits no ParticipantConnected for it.
     */
    addAgent(attributes: Record<string, string> = {}, { announce = true } = {}) {
      agent = new RemoteParticipant(
        {} as never,
        'PA_agent',
        'agent-bank-desk',
        'Bank assistant',
        '',
        attributes,
        undefined,
        ParticipantKind.AGENT,
      );
      if (!announce) {
        room.remoteParticipants.set(agent.identity, agent);
        return agent;
      }
      act(() => {
        room.remoteParticipants.set(agent!.identity, agent!);
        room.emit(RoomEvent.ParticipantConnected, agent!);
      });
      return agent;
    },
    /** A method the app registered, as an RPC call from `callerIdentity` reaches it. */
    callRpc(method: string, payload: string, callerIdentity = 'agent-bank-desk'): Promise<string> {
      const handler = rpcHandlers.get(method);
      if (!handler) throw new Error(`no RPC handler registered for ${method}`);
      let result!: Promise<string>;
      act(() => {
        result = handler({ requestId: 'req-1', callerIdentity, payload, responseTimeout: 40000 });
      });
      return result;
    },
    rpcMethods: () => [...rpcHandlers.keys()],
    /** The agent leaves the room (worker crash, job ended). */
    removeAgent() {
      if (!agent) throw new Error('addAgent() first');
      const gone = agent;
      act(() => {
        room.remoteParticipants.delete(gone.identity);
        room.emit(RoomEvent.ParticipantDisconnected, gone);
      });
    },
    /** The agent updates its participant attributes (handoff, state change). */
    setAgentAttributes(changes: Record<string, string>) {
      if (!agent) throw new Error('addAgent() first');
      const next = { ...agent.attributes, ...changes };
      act(() => {
        (agent as unknown as { _setAttributes(a: Record<string, string>): void })._setAttributes(
          next,
        );
        // A connected Room re-emits it; this test Room never wired the participant up.
        room.emit(RoomEvent.ParticipantAttributesChanged, changes, agent!);
      });
    },
    /**
     * Deliver one `lk.transcription` text stream, as LiveKit Agents send them. With
     * `finalInTrailer`, the stream opens with lk.transcription_final="false" and the trailer
     * turns it "true" as the stream closes (what livekit-client does with a real trailer).
     */
    async sendTranscription(opts: {
      from: string;
      text: string;
      segmentId: string;
      final?: boolean;
      finalInTrailer?: boolean;
      timestamp?: number;
      streamId?: string;
    }) {
      const handler = textHandlers.get('lk.transcription');
      if (!handler) throw new Error('no lk.transcription handler registered');
      const info = {
        id: opts.streamId ?? `stream-${opts.segmentId}-${Math.random()}`,
        topic: 'lk.transcription',
        timestamp: opts.timestamp ?? Date.now(),
        mimeType: 'text/plain',
        attributes: {
          'lk.segment_id': opts.segmentId,
          'lk.transcription_final':
            opts.final === false || opts.finalInTrailer ? 'false' : 'true',
        } as Record<string, string>,
      };
      const reader = {
        info,
        async *[Symbol.asyncIterator]() {
          yield opts.text;
          if (opts.finalInTrailer) {
            info.attributes = { ...info.attributes, 'lk.transcription_final': 'true' };
          }
        },
      };
      await act(async () => {
        await handler(reader, { identity: opts.from });
        await new Promise((resolve) => setTimeout(resolve, 0));
      });
    },
  };
  return helpers;
}

export type TestRoom = ReturnType<typeof createTestRoom>;

export function makeCredentials(overrides: Partial<CallCredentials> = {}): CallCredentials {
  return {
    serverUrl: 'ws://localhost:7880',
    participantToken: TOKEN,
    roomName: 'bank-1001-abc',
    identity: 'customer-1001',
    customerName: 'Alice Example',
    customerNumber: '1001',
    expiresAt: Date.now() + 900_000,
    ...overrides,
  };
}
