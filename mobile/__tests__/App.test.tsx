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
});
