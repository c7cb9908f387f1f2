import { DisconnectReason } from 'livekit-client';

import {
  callReducer,
  deriveCallStatus,
  describeDisconnect,
  initialCallState,
  NOTICES,
  type CallAction,
  type CallState,
} from '../src/call/callState';

const run = (actions: CallAction[], from: CallState = initialCallState) =>
  actions.reduce(callReducer, from);

describe('callReducer', () => {
  it('goes connecting -> connected', () => {
    expect(run([{ type: 'connect' }]).phase).toBe('connecting');
    expect(run([{ type: 'connect' }, { type: 'connected' }]).phase).toBe('connected');
  });

  it('tells the user about reconnecting and recovery', () => {
    const reconnecting = run([{ type: 'connect' }, { type: 'connected' }, { type: 'reconnecting' }]);
    expect(reconnecting).toMatchObject({ phase: 'reconnecting', notice: NOTICES.reconnecting });
    const back = callReducer(reconnecting, { type: 'reconnected' });
    expect(back).toMatchObject({ phase: 'connected', notice: NOTICES.reconnected, reconnects: 1 });
  });

  it('ignores reconnect events when not in a call', () => {
    expect(run([{ type: 'reconnecting' }]).phase).toBe('idle');
    expect(run([{ type: 'connect' }, { type: 'reconnected' }]).phase).toBe('connecting');
  });

  it('ends quietly when the customer hangs up', () => {
    const ended = run([
      { type: 'connect' },
      { type: 'connected' },
      { type: 'disconnected', reason: DisconnectReason.CLIENT_INITIATED },
    ]);
    expect(ended).toMatchObject({ phase: 'ended', error: null });
  });

  it('explains a dropped connection', () => {
    const ended = run([
      { type: 'connect' },
      { type: 'connected' },
      { type: 'reconnecting' },
      { type: 'disconnected', reason: DisconnectReason.SIGNAL_CLOSE },
    ]);
    expect(ended.phase).toBe('ended');
    expect(ended.error).toMatch(/couldn't reconnect/);
    expect(ended.notice).toBeNull();
  });

  it('does not resurrect an ended call when a late connected arrives', () => {
    const ended = run([{ type: 'connect' }, { type: 'disconnected' }, { type: 'connected' }]);
    expect(ended.phase).toBe('ended');
  });

  it('keeps the failure message', () => {
    const failed = run([{ type: 'connect' }, { type: 'failed', message: 'nope' }]);
    expect(failed).toMatchObject({ phase: 'failed', error: 'nope' });
    expect(callReducer(failed, { type: 'disconnected' })).toBe(failed);
  });

  it('describes server-side endings', () => {
    expect(describeDisconnect(DisconnectReason.ROOM_DELETED)).toMatch(/ended/);
    expect(describeDisconnect(DisconnectReason.DUPLICATE_IDENTITY)).toMatch(/another device/);
  });
});

describe('deriveCallStatus', () => {
  it.each([
    ['connecting', undefined, 'connecting', 'Connecting…'],
    ['reconnecting', 'speaking', 'reconnecting', 'Reconnecting…'],
    ['connected', 'connecting', 'waiting', 'Waiting for the assistant…'],
    ['connected', 'initializing', 'waiting', 'Waiting for the assistant…'],
    ['connected', 'listening', 'listening', 'Listening'],
    ['connected', 'thinking', 'thinking', 'Thinking…'],
    ['connected', 'speaking', 'speaking', 'Speaking'],
    ['ended', 'listening', 'ended', 'Call ended'],
    ['failed', undefined, 'failed', 'Call failed'],
  ] as const)('%s + agent %s -> %s', (phase, agentState, key, label) => {
    expect(deriveCallStatus(phase, agentState)).toEqual({ key, label });
  });
});
