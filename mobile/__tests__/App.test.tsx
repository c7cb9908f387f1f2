import { fireEvent, render, screen, waitFor } from '@testing-library/react-native';

import App from '../App';
import { jsonResponse, okBody, TOKEN } from './helpers/fakeFetch';
import { createTestRoom, type TestRoom } from './helpers/livekit';

// The real app creates its own Room; hand it a test Room that stays off the network.
let mockTestRoom: TestRoom;
jest.mock('../src/livekit/room', () => ({
  createVoiceRoom: () => mockTestRoom.room,
}));

beforeEach(() => {
  jest.restoreAllMocks();
  mockTestRoom = createTestRoom();
});

describe('App', () => {
  it('signs in, joins the call, and returns to sign-in — without logging the token', async () => {
    const consoleSpies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
      jest.spyOn(console, level),
    );
    const fetchSpy = jest
      .spyOn(globalThis, 'fetch')
      .mockResolvedValue(jsonResponse({ status: 200, body: okBody }));

    render(<App />);
    fireEvent.changeText(screen.getByLabelText('Customer number'), '1001');
    fireEvent.changeText(screen.getByLabelText('PIN'), '1234');
    fireEvent.press(screen.getByRole('button', { name: /sign in/i }));

    expect(await screen.findByText('Hi Alice')).toBeTruthy();
    expect(fetchSpy).toHaveBeenCalledWith('http://localhost:8088/api/token', expect.anything());
    await waitFor(() => expect(mockTestRoom.connect).toHaveBeenCalledWith('ws://localhost:7880', TOKEN));

    await waitFor(() => expect(mockTestRoom.setMicrophoneEnabled).toHaveBeenCalledWith(true));
    fireEvent.press(screen.getByRole('button', { name: 'End call' }));
    fireEvent.press(await screen.findByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('button', { name: /sign in/i })).toBeTruthy();
    // The customer number is remembered, the PIN is not.
    expect(screen.getByLabelText('Customer number').props.value).toBe('1001');
    expect(screen.getByLabelText('PIN').props.value).toBe('');

    for (const spy of consoleSpies) {
      for (const args of spy.mock.calls) {
        expect(args.map((a: unknown) => String(a)).join(' ')).not.toContain(TOKEN);
      }
    }
  });

  it('gets a fresh token, room and identity for each call', async () => {
    const second = { ...okBody, participant_token: 'second-token', room_name: 'bank-2' };
    const fetchSpy = jest
      .spyOn(globalThis, 'fetch')
      .mockResolvedValueOnce(jsonResponse({ status: 200, body: okBody }))
      .mockResolvedValueOnce(jsonResponse({ status: 200, body: second }));
    const firstRoom = mockTestRoom;

    render(<App />);
    fireEvent.changeText(screen.getByLabelText('Customer number'), '1001');
    fireEvent.changeText(screen.getByLabelText('PIN'), '1234');
    fireEvent.press(screen.getByRole('button', { name: /sign in/i }));
    await waitFor(() => expect(firstRoom.setMicrophoneEnabled).toHaveBeenCalledWith(true));
    fireEvent.press(screen.getByRole('button', { name: 'End call' }));

    mockTestRoom = createTestRoom();
    fireEvent.press(await screen.findByRole('button', { name: 'Call again' }));
    await waitFor(() =>
      expect(mockTestRoom.connect).toHaveBeenCalledWith('ws://localhost:7880', 'second-token'),
    );
    expect(fetchSpy).toHaveBeenCalledTimes(2);
    expect(JSON.parse(String(fetchSpy.mock.calls[1]![1]!.body))).toEqual({
      customer_number: '1001',
      pin: '1234',
    });
    expect(firstRoom.connect).toHaveBeenCalledTimes(1);
  });

  it('sends the customer back to sign in when the PIN no longer works for a new call', async () => {
    jest
      .spyOn(globalThis, 'fetch')
      .mockResolvedValueOnce(jsonResponse({ status: 200, body: okBody }))
      .mockResolvedValueOnce(
        jsonResponse({ status: 401, body: { error: 'invalid_credentials', message: 'no' } }),
      );
    render(<App />);
    fireEvent.changeText(screen.getByLabelText('Customer number'), '1001');
    fireEvent.changeText(screen.getByLabelText('PIN'), '1234');
    fireEvent.press(screen.getByRole('button', { name: /sign in/i }));
    await waitFor(() => expect(mockTestRoom.setMicrophoneEnabled).toHaveBeenCalledWith(true));
    fireEvent.press(screen.getByRole('button', { name: 'End call' }));
    mockTestRoom = createTestRoom();
    fireEvent.press(await screen.findByRole('button', { name: 'Call again' }));
    expect(await screen.findByRole('button', { name: /sign in/i })).toBeTruthy();
    expect(screen.getByText(/don't match our records/i)).toBeTruthy();
  });
});
