import { AudioSession } from '@livekit/react-native';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react-native';
import {
  ConnectionError,
  ConnectionState,
  DisconnectReason,
  RoomEvent,
} from 'livekit-client';
import type React from 'react';
import { StyleSheet } from 'react-native';

import { TokenServiceError } from '../src/api/tokenClient';
import { AGENT_JOIN_TIMEOUT_MS } from '../src/call/callState';
import { LATE_DESK_MS } from '../src/call/useTranscriptStreams';
import { CallScreen } from '../src/screens/CallScreen';
import { TOKEN } from './helpers/fakeFetch';
import { createTestRoom, makeCredentials, type TestRoom } from './helpers/livekit';

let t: TestRoom;
let onSignOut: jest.Mock;
let onCallAgain: jest.Mock;

async function renderConnected(credentials = makeCredentials()) {
  render(
    <CallScreen
      credentials={credentials}
      onSignOut={onSignOut}
      onCallAgain={onCallAgain}
      createRoom={() => t.room}
    />,
  );
  await waitFor(() => expect(t.setMicrophoneEnabled).toHaveBeenCalledWith(true));
}

const statusLabel = () => screen.getByTestId('agent-status-label').props.children;
const specialistText = () => screen.getByTestId('specialist-label').props.children;

beforeEach(() => {
  jest.clearAllMocks();
  t = createTestRoom();
  onSignOut = jest.fn();
  onCallAgain = jest.fn();
});

describe('CallScreen', () => {
  it('starts the audio session, joins with the issued token and publishes the mic', async () => {
    await renderConnected();
    expect(AudioSession.startAudioSession).toHaveBeenCalledTimes(1);
    expect(t.connect).toHaveBeenCalledWith('ws://localhost:7880', TOKEN);
    expect(
      (AudioSession.startAudioSession as jest.Mock).mock.invocationCallOrder[0]!,
    ).toBeLessThan(t.connect.mock.invocationCallOrder[0]!);
  });

  it('shows connecting until the room is up, then waits for the agent', async () => {
    let finishConnect: () => void = () => undefined;
    t.connect.mockImplementation(
      () =>
        new Promise<void>((resolve) => {
          finishConnect = () => {
            t.setConnectionState(ConnectionState.Connected);
            resolve();
          };
        }),
    );
    render(
      <CallScreen
        credentials={makeCredentials()}
        onSignOut={onSignOut}
        onCallAgain={onCallAgain}
        createRoom={() => t.room}
      />,
    );
    expect(statusLabel()).toBe('Connecting…');
    expect(specialistText()).toBe('Waiting for assistant…');
    await waitFor(() => expect(t.connect).toHaveBeenCalled());
    await act(async () => finishConnect());
    await waitFor(() => expect(statusLabel()).toBe('Waiting for the assistant…'));
  });

  it('follows the agent through listening, thinking and speaking', async () => {
    await renderConnected();
    t.addAgent({ 'lk.agent.state': 'initializing', 'bank.specialist': 'greeter' });
    expect(statusLabel()).toBe('Waiting for the assistant…');

    t.setAgentAttributes({ 'lk.agent.state': 'listening' });
    expect(statusLabel()).toBe('Listening');
    expect(screen.getByLabelText('visualizer listening')).toBeTruthy();

    t.setAgentAttributes({ 'lk.agent.state': 'thinking' });
    expect(statusLabel()).toBe('Thinking…');

    t.setAgentAttributes({ 'lk.agent.state': 'speaking' });
    expect(statusLabel()).toBe('Speaking');
    expect(screen.getByLabelText('visualizer speaking')).toBeTruthy();
  });

  it('shows which specialist is on the line and updates it at each handoff', async () => {
    await renderConnected();
    t.addAgent({ 'lk.agent.state': 'listening', 'bank.specialist': 'greeter' });
    expect(specialistText()).toBe('Greeter');

    t.setAgentAttributes({ 'bank.specialist': 'balance' });
    expect(specialistText()).toBe('Balance');

    t.setAgentAttributes({ 'bank.specialist': 'transactions' });
    expect(specialistText()).toBe('Transactions');

    t.setAgentAttributes({ 'bank.specialist': 'card_security' });
    expect(specialistText()).toBe('Card security');
    expect(screen.getByText('Lost, stolen or blocked cards')).toBeTruthy();

    t.setAgentAttributes({ 'bank.specialist': 'human' });
    expect(specialistText()).toBe('Human agent');
  });

  it('renders the live transcript of both sides, updating interim text', async () => {
    await renderConnected();
    t.addAgent({ 'lk.agent.state': 'listening', 'bank.specialist': 'greeter' });
    expect(screen.getByText(/conversation will appear here/i)).toBeTruthy();

    await t.sendTranscription({
      from: 'agent-bank-desk',
      text: 'Welcome to the bank. How can I help?',
      segmentId: 'A1',
      timestamp: 1,
    });
    await t.sendTranscription({
      from: 'customer-1001',
      text: 'I lost',
      segmentId: 'U1',
      final: false,
      timestamp: 2,
    });
    expect(await screen.findByText('I lost')).toBeTruthy();
    await t.sendTranscription({
      from: 'customer-1001',
      text: 'I lost my card',
      segmentId: 'U1',
      timestamp: 2,
    });

    expect(await screen.findByText('I lost my card')).toBeTruthy();
    expect(screen.queryByText('I lost')).toBeNull();
    const agentLines = screen.getAllByTestId('transcript-line-agent');
    const customerLines = screen.getAllByTestId('transcript-line-customer');
    expect(agentLines).toHaveLength(1);
    expect(customerLines).toHaveLength(1);
    expect(within(agentLines[0]!).getByText('Welcome to the bank. How can I help?')).toBeTruthy();
    expect(within(customerLines[0]!).getByText('You')).toBeTruthy();
  });

  it('mutes and unmutes the microphone', async () => {
    await renderConnected();
    t.setMicrophoneEnabled.mockClear();

    fireEvent.press(screen.getByRole('button', { name: 'Mute microphone' }));
    await waitFor(() => expect(t.setMicrophoneEnabled).toHaveBeenLastCalledWith(false));
    expect(await screen.findByRole('button', { name: 'Unmute microphone' })).toBeTruthy();

    fireEvent.press(screen.getByRole('button', { name: 'Unmute microphone' }));
    await waitFor(() => expect(t.setMicrophoneEnabled).toHaveBeenLastCalledWith(true));
    expect(await screen.findByRole('button', { name: 'Mute microphone' })).toBeTruthy();
  });

  it('keeps the mute state when the microphone cannot be toggled', async () => {
    await renderConnected();
    t.setMicrophoneEnabled.mockRejectedValueOnce(
      Object.assign(new Error('denied'), { name: 'NotAllowedError' }),
    );
    fireEvent.press(screen.getByRole('button', { name: 'Mute microphone' }));
    expect(await screen.findByText(/microphone access is off/i)).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Mute microphone' })).toBeTruthy();
  });

  it('hangs up, releases the audio session and offers to call again', async () => {
    await renderConnected();
    fireEvent.press(screen.getByRole('button', { name: 'End call' }));
    await waitFor(() => expect(t.disconnect).toHaveBeenCalled());
    await waitFor(() => expect(AudioSession.stopAudioSession).toHaveBeenCalled());
    expect(statusLabel()).toBe('Call ended');
    expect(screen.queryByTestId('call-error')).toBeNull();
    expect(screen.queryByRole('button', { name: 'End call' })).toBeNull();

    fireEvent.press(screen.getByRole('button', { name: 'Call again' }));
    expect(onCallAgain).toHaveBeenCalledTimes(1);
    fireEvent.press(screen.getByRole('button', { name: 'Sign out' }));
    expect(onSignOut).toHaveBeenCalledWith(undefined);
  });

  it('tells the user while it reconnects after network loss, and when it recovers', async () => {
    await renderConnected();
    act(() => {
      t.room.emit(RoomEvent.Reconnecting);
    });
    expect(screen.getByText('Connection lost. Reconnecting…')).toBeTruthy();
    expect(statusLabel()).toBe('Reconnecting…');
    expect(screen.getByRole('button', { name: 'Mute microphone' })).toBeDisabled();

    act(() => {
      t.room.emit(RoomEvent.Reconnected);
    });
    expect(screen.getByText('Connection restored.')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Mute microphone' })).toBeEnabled();
  });

  it('explains when the connection could not be recovered', async () => {
    await renderConnected();
    act(() => {
      t.room.emit(RoomEvent.Reconnecting);
    });
    act(() => {
      t.room.emit(RoomEvent.Disconnected, DisconnectReason.SIGNAL_CLOSE);
    });
    expect(screen.getByTestId('call-error')).toBeTruthy();
    expect(screen.getByText(/connection was lost and we couldn't reconnect/i)).toBeTruthy();
    await waitFor(() => expect(AudioSession.stopAudioSession).toHaveBeenCalled());
    expect(screen.getByRole('button', { name: 'Call again' })).toBeTruthy();
  });

  it('reports a failed join without echoing the raw error', async () => {
    t.connect.mockRejectedValueOnce(new Error(`could not connect to ws://x?access_token=${TOKEN}`));
    render(
      <CallScreen
        credentials={makeCredentials()}
        onSignOut={onSignOut}
        onCallAgain={onCallAgain}
        createRoom={() => t.room}
      />,
    );
    expect(await screen.findByText(/couldn't start the call/i)).toBeTruthy();
    expect(screen.queryByText(new RegExp(TOKEN))).toBeNull();
    expect(statusLabel()).toBe('Call failed');
    expect(AudioSession.stopAudioSession).toHaveBeenCalled();
  });

  it('does not join with an expired token and sends the user back to sign in', async () => {
    render(
      <CallScreen
        credentials={makeCredentials({ expiresAt: Date.now() - 1 })}
        onSignOut={onSignOut}
        onCallAgain={onCallAgain}
        createRoom={() => t.room}
      />,
    );
    expect(screen.getByText(/sign-in has expired/i)).toBeTruthy();
    expect(t.connect).not.toHaveBeenCalled();
    expect(screen.queryByRole('button', { name: 'Call again' })).toBeNull();
    fireEvent.press(screen.getByRole('button', { name: 'Sign in again' }));
    expect(onSignOut).toHaveBeenCalledWith(expect.stringMatching(/expired/));
  });

  it('leaves the room when the screen goes away', async () => {
    await renderConnected();
    screen.unmount();
    expect(t.disconnect).toHaveBeenCalled();
    await waitFor(() => expect(AudioSession.stopAudioSession).toHaveBeenCalled());
  });
});

describe('CallScreen in real conditions', () => {
  function renderCall(props: Partial<React.ComponentProps<typeof CallScreen>> = {}) {
    render(
      <CallScreen
        credentials={makeCredentials()}
        onSignOut={onSignOut}
        onCallAgain={onCallAgain}
        createRoom={() => t.room}
        {...props}
      />,
    );
  }

  it('waits about 20 s for the agent by default', () => {
    expect(AGENT_JOIN_TIMEOUT_MS).toBe(20_000);
  });

  it('fails with a reason when no agent joins in time, leaves the room and offers a retry', async () => {
    renderCall({ agentJoinTimeoutMs: 50 });
    await waitFor(() => expect(t.connect).toHaveBeenCalled());
    expect(await screen.findByText(/assistant didn't join the call/i)).toBeTruthy();
    expect(statusLabel()).toBe('Call failed');
    await waitFor(() => expect(t.disconnect).toHaveBeenCalled());
    await waitFor(() => expect(AudioSession.stopAudioSession).toHaveBeenCalled());
    fireEvent.press(screen.getByRole('button', { name: 'Call again' }));
    await waitFor(() => expect(onCallAgain).toHaveBeenCalledTimes(1));
  });

  it('stops the clock when the agent joins', async () => {
    // Generous: the agent joins a few event-loop turns after the room connects.
    renderCall({ agentJoinTimeoutMs: 1500 });
    await waitFor(() => expect(t.setMicrophoneEnabled).toHaveBeenCalledWith(true));
    t.addAgent({ 'lk.agent.state': 'listening', 'bank.specialist': 'greeter' });
    await act(async () => new Promise((resolve) => setTimeout(resolve, 1800)));
    expect(statusLabel()).toBe('Listening');
    expect(screen.queryByTestId('call-error')).toBeNull();
  });

  it('waits for an agent that left to come back, then fails with a reason', async () => {
    // The agent is already in the room when the customer arrives.
    t.addAgent({ 'lk.agent.state': 'listening', 'bank.specialist': 'greeter' });
    renderCall({ agentJoinTimeoutMs: 80 });
    await waitFor(() => expect(t.setMicrophoneEnabled).toHaveBeenCalledWith(true));
    t.removeAgent();
    expect(screen.getByText(/assistant dropped off the call/i)).toBeTruthy();
    expect(statusLabel()).toBe('Waiting for the assistant…');
    expect(await screen.findByText(/assistant left the call/i)).toBeTruthy();
    expect(statusLabel()).toBe('Call failed');
    expect(screen.getByRole('button', { name: 'Call again' })).toBeTruthy();
  });

  it('follows an agent that was already in the room before we connected', async () => {
    // livekit-client builds the room's existing participants from the join response while
    // it is still connecting, so no ParticipantConnected event ever announces them.
    t.connect.mockImplementation(async () => {
      t.addAgent(
        { 'lk.agent.state': 'initializing', 'bank.specialist': 'greeter' },
        { announce: false },
      );
      t.setConnectionState(ConnectionState.Connected);
    });
    renderCall({ agentJoinTimeoutMs: 80 });
    await waitFor(() => expect(specialistText()).toBe('Greeter'));
    expect(statusLabel()).toBe('Waiting for the assistant…');

    t.setAgentAttributes({ 'lk.agent.state': 'listening' });
    expect(statusLabel()).toBe('Listening');
    // Past the join timeout: the agent that was there counts as joined.
    await act(async () => new Promise((resolve) => setTimeout(resolve, 200)));
    expect(screen.queryByTestId('call-error')).toBeNull();
    t.setAgentAttributes({ 'lk.agent.state': 'speaking' });
    expect(statusLabel()).toBe('Speaking');
  });

  it('carries on when the agent comes back in time', async () => {
    t.addAgent({ 'lk.agent.state': 'listening', 'bank.specialist': 'greeter' });
    renderCall({ agentJoinTimeoutMs: 80 });
    await waitFor(() => expect(t.setMicrophoneEnabled).toHaveBeenCalledWith(true));
    t.removeAgent();
    t.addAgent({ 'lk.agent.state': 'listening', 'bank.specialist': 'greeter' });
    expect(screen.queryByText(/assistant dropped off/i)).toBeNull();
    await act(async () => new Promise((resolve) => setTimeout(resolve, 200)));
    expect(statusLabel()).toBe('Listening');
    expect(screen.queryByTestId('call-error')).toBeNull();
  });

  it('keeps the transcript after the call ends', async () => {
    await renderConnected();
    t.addAgent({ 'lk.agent.state': 'listening', 'bank.specialist': 'greeter' });
    await t.sendTranscription({ from: 'agent-bank-desk', text: 'Welcome.', segmentId: 'A1' });
    await t.sendTranscription({ from: 'customer-1001', text: 'Balance please', segmentId: 'U1' });
    act(() => {
      t.room.emit(RoomEvent.Disconnected, DisconnectReason.ROOM_DELETED);
    });
    expect(statusLabel()).toBe('Call ended');
    expect(screen.getByText('Welcome.')).toBeTruthy();
    expect(screen.getByText('Balance please')).toBeTruthy();
  });

  it('labels each agent line with the desk that said it', async () => {
    await renderConnected();
    t.addAgent({ 'lk.agent.state': 'listening', 'bank.specialist': 'greeter' });
    await t.sendTranscription({ from: 'agent-bank-desk', text: 'Hello.', segmentId: 'A1' });
    await act(async () => new Promise((resolve) => setTimeout(resolve, LATE_DESK_MS + 100)));
    t.setAgentAttributes({ 'bank.specialist': 'balance' });
    await t.sendTranscription({ from: 'agent-bank-desk', text: 'Your balance is £5.', segmentId: 'A2' });
    const lines = screen.getAllByTestId('transcript-line-agent');
    expect(within(lines[0]!).getByTestId('transcript-speaker').props.children).toBe('Greeter');
    expect(within(lines[1]!).getByTestId('transcript-speaker').props.children).toBe('Balance');
  });

  it("gives the new desk its first line when the desk change arrives just after it", async () => {
    // Seen against the real server: the line (data channel) beat the attribute (signalling).
    await renderConnected();
    t.addAgent({ 'lk.agent.state': 'listening', 'bank.specialist': 'balance' });
    await t.sendTranscription({
      from: 'agent-bank-desk',
      text: 'To confirm: lock the card ending 5454?',
      segmentId: 'A1',
    });
    t.setAgentAttributes({ 'bank.specialist': 'card_security' });
    const line = screen.getByTestId('transcript-line-agent');
    expect(within(line).getByTestId('transcript-speaker').props.children).toBe('Card security');
  });

  it('keeps the desk of a line the customer has already answered', async () => {
    await renderConnected();
    t.addAgent({ 'lk.agent.state': 'listening', 'bank.specialist': 'balance' });
    await t.sendTranscription({ from: 'agent-bank-desk', text: 'Your balance is £5.', segmentId: 'A1' });
    fireEvent.changeText(screen.getByLabelText('Message to the assistant'), 'lock my card');
    fireEvent.press(screen.getByRole('button', { name: 'Send message' }));
    await screen.findByTestId('transcript-line-customer');
    t.setAgentAttributes({ 'bank.specialist': 'card_security' });
    const line = screen.getByTestId('transcript-line-agent');
    expect(within(line).getByTestId('transcript-speaker').props.children).toBe('Balance');
  });

  it('marks the last agent line final when the trailer says so', async () => {
    await renderConnected();
    t.addAgent({ 'lk.agent.state': 'speaking', 'bank.specialist': 'greeter' });
    await t.sendTranscription({
      from: 'agent-bank-desk',
      text: 'How can I help?',
      segmentId: 'A1',
      finalInTrailer: true,
    });
    const line = screen.getByTestId('transcript-line-agent');
    await waitFor(() => expect(within(line).getByTestId('transcript-text-final')).toBeTruthy());
    expect(within(line).queryByTestId('transcript-text-interim')).toBeNull();
  });

  it('explains a denied microphone even when the rejection is not an Error', async () => {
    t.setMicrophoneEnabled.mockRejectedValueOnce({
      name: 'SecurityError',
      message: 'Permission denied',
    });
    renderCall();
    expect(await screen.findByText(/microphone access is off/i)).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Unmute microphone' })).toBeTruthy();
  });

  it('does not say "on the line" once the call has ended', async () => {
    await renderConnected();
    t.addAgent({ 'lk.agent.state': 'listening', 'bank.specialist': 'balance' });
    expect(specialistText()).toBe('Balance');
    fireEvent.press(screen.getByRole('button', { name: 'End call' }));
    await waitFor(() => expect(statusLabel()).toBe('Call ended'));
    expect(specialistText()).toBe('Call ended');
    expect(screen.queryByText('On the line')).toBeNull();
    expect(screen.queryByText(/waiting for assistant/i)).toBeNull();
  });

  it('offers sign-in, not another call, when the server rejects the token', async () => {
    t.connect.mockRejectedValueOnce(
      ConnectionError.notAllowed('token rejected', 401),
    );
    renderCall();
    expect(await screen.findByText(/did not accept this session/i)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Call again' })).toBeNull();
    fireEvent.press(screen.getByRole('button', { name: 'Sign in again' }));
    expect(onSignOut).toHaveBeenCalledWith(expect.stringMatching(/sign in again/i));
  });

  it('gives the banner dismiss button a 44 pt touch target', async () => {
    await renderConnected();
    act(() => {
      t.room.emit(RoomEvent.Reconnecting);
    });
    act(() => {
      t.room.emit(RoomEvent.Reconnected);
    });
    const dismiss = screen.getByRole('button', { name: 'Dismiss' });
    const style = StyleSheet.flatten(dismiss.props.style);
    expect(style.minWidth).toBeGreaterThanOrEqual(44);
    expect(style.minHeight).toBeGreaterThanOrEqual(44);
    fireEvent.press(dismiss);
    expect(screen.queryByText('Connection restored.')).toBeNull();
  });

  it('sends typed messages on lk.chat and shows them in the transcript', async () => {
    await renderConnected();
    t.addAgent({ 'lk.agent.state': 'listening', 'bank.specialist': 'greeter' });
    fireEvent.changeText(screen.getByLabelText('Message to the assistant'), "  What's my balance? ");
    fireEvent.press(screen.getByRole('button', { name: 'Send message' }));
    await waitFor(() =>
      expect(t.sendText).toHaveBeenCalledWith("What's my balance?", { topic: 'lk.chat' }),
    );
    const mine = await screen.findByTestId('transcript-line-customer');
    expect(within(mine).getByText("What's my balance?")).toBeTruthy();
    expect(screen.getByLabelText('Message to the assistant').props.value).toBe('');
  });

  it('keeps the draft and says so when a typed message cannot be sent', async () => {
    await renderConnected();
    t.sendText.mockRejectedValueOnce(new Error('data channel closed'));
    fireEvent.changeText(screen.getByLabelText('Message to the assistant'), 'hello');
    fireEvent.press(screen.getByRole('button', { name: 'Send message' }));
    expect(await screen.findByText(/message wasn't sent/i)).toBeTruthy();
    expect(screen.getByLabelText('Message to the assistant').props.value).toBe('hello');
    expect(screen.queryByTestId('transcript-line-customer')).toBeNull();
  });

  it('shows why a new call could not start', async () => {
    onCallAgain.mockRejectedValueOnce(new TokenServiceError('unreachable'));
    await renderConnected();
    fireEvent.press(screen.getByRole('button', { name: 'End call' }));
    fireEvent.press(await screen.findByRole('button', { name: 'Call again' }));
    expect(await screen.findByText(/can't reach the bank's support service/i)).toBeTruthy();
  });
});
