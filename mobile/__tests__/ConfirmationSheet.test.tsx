import { act, fireEvent, render, screen, waitFor } from '@testing-library/react-native';
import { RpcError } from 'livekit-client';

import {
  CLOSE_METHOD,
  CONFIRM_METHOD,
  describeRequest,
  parseConfirmRequest,
} from '../src/call/confirmation';
import { CallScreen } from '../src/screens/CallScreen';
import { createTestRoom, makeCredentials, type TestRoom } from './helpers/livekit';

let t: TestRoom;

function request(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: 1,
    id: 'confirm_1',
    action: 'lock',
    card_last_four: '5454',
    timeout_s: 30,
    ...overrides,
  });
}

async function renderInCall() {
  render(
    <CallScreen
      credentials={makeCredentials()}
      onSignOut={jest.fn()}
      onCallAgain={jest.fn()}
      createRoom={() => t.room}
    />,
  );
  await waitFor(() => expect(t.setMicrophoneEnabled).toHaveBeenCalledWith(true));
  t.addAgent({ 'lk.agent.state': 'listening' });
}

beforeEach(() => {
  jest.clearAllMocks();
  t = createTestRoom();
});

describe('confirmation sheet', () => {
  it('shows the read-back the agent asks about and answers Confirm', async () => {
    await renderInCall();
    const answer = t.callRpc(CONFIRM_METHOD, request());

    const sheet = await screen.findByTestId('confirm-sheet');
    expect(screen.getByRole('header', { name: 'Lock the card ending 5454?' })).toBeTruthy();
    expect(sheet).toBeTruthy();
    expect(screen.getByTestId('confirm-sheet-timer').props.children).toMatch(/Expires in 30 s/);
    fireEvent.press(screen.getByRole('button', { name: 'Confirm: Lock the card ending 5454' }));

    expect(JSON.parse(await answer)).toEqual({ id: 'confirm_1', answer: 'confirm' });
    await waitFor(() => expect(screen.queryByTestId('confirm-sheet')).toBeNull());
  });

  it('answers Cancel', async () => {
    await renderInCall();
    const answer = t.callRpc(CONFIRM_METHOD, request({ action: 'stolen', card_last_four: '4242' }));
    expect(await screen.findByText('Report the card ending 4242 stolen?')).toBeTruthy();
    fireEvent.press(screen.getByRole('button', { name: 'Cancel, change nothing' }));
    expect(JSON.parse(await answer)).toEqual({ id: 'confirm_1', answer: 'cancel' });
    await waitFor(() => expect(screen.queryByTestId('confirm-sheet')).toBeNull());
  });

  it('times out by itself, and a late tap answers nothing', async () => {
    await renderInCall();
    const answer = t.callRpc(CONFIRM_METHOD, request({ timeout_s: 0.2 }));
    await screen.findByTestId('confirm-sheet');
    expect(JSON.parse(await answer)).toEqual({ id: 'confirm_1', answer: 'timeout' });
    await waitFor(() => expect(screen.queryByTestId('confirm-sheet')).toBeNull());
  });

  it('closes when the agent withdraws it (the caller answered by voice)', async () => {
    await renderInCall();
    const answer = t.callRpc(CONFIRM_METHOD, request());
    await screen.findByTestId('confirm-sheet');
    await act(async () => {
      await t.callRpc(CLOSE_METHOD, JSON.stringify({ id: 'other' }));
    });
    expect(screen.getByTestId('confirm-sheet')).toBeTruthy(); // another request's close
    await act(async () => {
      await t.callRpc(CLOSE_METHOD, JSON.stringify({ id: 'confirm_1' }));
    });
    expect(JSON.parse(await answer)).toEqual({ id: 'confirm_1', answer: 'timeout' });
    await waitFor(() => expect(screen.queryByTestId('confirm-sheet')).toBeNull());
  });

  it('refuses a request from anyone but the agent, and malformed requests', async () => {
    await renderInCall();
    await expect(t.callRpc(CONFIRM_METHOD, request(), 'someone-else')).rejects.toBeInstanceOf(
      RpcError,
    );
    for (const bad of [
      'not json',
      request({ version: 2 }),
      request({ action: 'transfer' }),
      request({ card_last_four: '4242 5454' }),
      request({ timeout_s: 0 }),
      request({ id: '' }),
    ]) {
      await expect(t.callRpc(CONFIRM_METHOD, bad)).rejects.toBeInstanceOf(RpcError);
    }
    expect(screen.queryByTestId('confirm-sheet')).toBeNull();
  });

  it('a newer request replaces the one on screen', async () => {
    await renderInCall();
    const first = t.callRpc(CONFIRM_METHOD, request());
    await screen.findByText('Lock the card ending 5454?');
    const second = t.callRpc(CONFIRM_METHOD, request({ id: 'confirm_2', card_last_four: '4242' }));
    expect(JSON.parse(await first)).toEqual({ id: 'confirm_1', answer: 'timeout' });
    expect(await screen.findByText('Lock the card ending 4242?')).toBeTruthy();
    fireEvent.press(screen.getByRole('button', { name: 'Confirm: Lock the card ending 4242' }));
    expect(JSON.parse(await second)).toEqual({ id: 'confirm_2', answer: 'confirm' });
  });

  it('hanging up withdraws the sheet and the methods', async () => {
    await renderInCall();
    expect(t.rpcMethods().sort()).toEqual([CONFIRM_METHOD, CLOSE_METHOD].sort());
    const answer = t.callRpc(CONFIRM_METHOD, request());
    await screen.findByTestId('confirm-sheet');
    fireEvent.press(screen.getByRole('button', { name: 'End call' }));
    expect(JSON.parse(await answer)).toEqual({ id: 'confirm_1', answer: 'timeout' });
    await waitFor(() => expect(screen.queryByTestId('confirm-sheet')).toBeNull());
  });
});

describe('confirmation requests', () => {
  it('carry the action and the masked card only', () => {
    const parsed = parseConfirmRequest(request({ extra: 'ignored' }));
    expect(parsed).toEqual({ id: 'confirm_1', action: 'lock', cardLastFour: '5454', timeoutMs: 30000 });
    expect(describeRequest({ ...parsed!, action: 'unlock' }).title).toBe(
      'Unlock the card ending 5454?',
    );
    expect(describeRequest({ ...parsed!, action: 'lost' }).confirmLabel).toBe('Report lost');
  });
});
