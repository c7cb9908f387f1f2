import { fireEvent, render, screen, waitFor } from '@testing-library/react-native';

import type { CallCredentials, CallTokenSource } from '../src/api/tokenClient';
import { SignInScreen } from '../src/screens/SignInScreen';
import { fetchFailing, fetchReturning, okBody, TOKEN } from './helpers/fakeFetch';

function setup(fetchImpl: typeof fetch) {
  const onSignedIn = jest.fn<void, [CallCredentials, CallTokenSource]>();
  render(
    <SignInScreen
      tokenServiceUrl="http://localhost:8088"
      onSignedIn={onSignedIn}
      fetchImpl={fetchImpl}
    />,
  );
  fireEvent.changeText(screen.getByLabelText('Customer number'), '1001');
  fireEvent.changeText(screen.getByLabelText('PIN'), '1234');
  fireEvent.press(screen.getByRole('button', { name: /sign in/i }));
  return { onSignedIn };
}

describe('SignInScreen', () => {
  it('signs in and hands the credentials to the app', async () => {
    const fetchImpl = fetchReturning({ status: 200, body: okBody });
    const { onSignedIn } = setup(fetchImpl);
    await waitFor(() => expect(onSignedIn).toHaveBeenCalledTimes(1));
    const credentials = onSignedIn.mock.calls[0]![0];
    expect(credentials).toMatchObject({
      serverUrl: 'ws://localhost:7880',
      participantToken: TOKEN,
      customerName: 'Alice Example',
      customerNumber: '1001',
    });
    expect(fetchImpl).toHaveBeenCalledWith(
      'http://localhost:8088/api/token',
      expect.objectContaining({ method: 'POST' }),
    );
    expect(screen.queryByTestId('sign-in-error')).toBeNull();
  });

  it('hands over a token source that asks the service for a fresh token per call', async () => {
    const fetchImpl = fetchReturning({ status: 200, body: okBody });
    const { onSignedIn } = setup(fetchImpl);
    await waitFor(() => expect(onSignedIn).toHaveBeenCalledTimes(1));
    const tokens = onSignedIn.mock.calls[0]![1];
    // The PIN is kept only inside the source's closure, never on the object.
    expect(JSON.stringify(tokens)).not.toContain('1234');
    await tokens.next();
    expect(fetchImpl).toHaveBeenCalledTimes(2);
    expect(JSON.parse(String(fetchImpl.mock.calls[1]![1]!.body))).toEqual({
      customer_number: '1001',
      pin: '1234',
    });
  });

  it('limits the PIN field to the server maximum of 8 digits', () => {
    render(<SignInScreen tokenServiceUrl="http://localhost:8088" onSignedIn={jest.fn()} />);
    expect(screen.getByLabelText('PIN').props.maxLength).toBe(8);
  });

  it('shows a wrong-PIN message on 401 and clears the PIN', async () => {
    const { onSignedIn } = setup(
      fetchReturning({
        status: 401,
        body: { error: 'invalid_credentials', message: 'Customer number or PIN is incorrect' },
      }),
    );
    expect(
      await screen.findByText(/customer number and PIN don't match our records/i),
    ).toBeTruthy();
    expect(screen.getByLabelText('PIN').props.value).toBe('');
    expect(screen.getByLabelText('Customer number').props.value).toBe('1001');
    expect(onSignedIn).not.toHaveBeenCalled();
  });

  it('explains a verification lock on 423 with the wait time', async () => {
    const { onSignedIn } = setup(
      fetchReturning({
        status: 423,
        body: { error: 'locked', message: 'Verification locked', retry_after_seconds: 900 },
      }),
    );
    const message = await screen.findByText(/locked after too many failed attempts/i);
    expect(message.props.children).toContain('15 minutes');
    expect(onSignedIn).not.toHaveBeenCalled();
  });

  it('reports a rejected request on 400', async () => {
    setup(fetchReturning({ status: 400, body: { error: 'bad_request', message: 'bad body' } }));
    expect(await screen.findByText(/sign-in details were not accepted/i)).toBeTruthy();
  });

  it('asks the customer to slow down on 429', async () => {
    setup(fetchReturning({ status: 429, body: { error: 'throttled', message: 'Too many' } }));
    expect(await screen.findByText(/too many sign-in attempts/i)).toBeTruthy();
  });

  it('says the server is unreachable when the network fails', async () => {
    const { onSignedIn } = setup(fetchFailing());
    expect(await screen.findByText(/can't reach the bank's support service/i)).toBeTruthy();
    expect(onSignedIn).not.toHaveBeenCalled();
    // The button is usable again for a retry.
    expect(screen.getByRole('button', { name: /sign in/i })).toBeEnabled();
  });

  it('validates locally before calling the server', () => {
    const fetchImpl = fetchReturning({ status: 200, body: okBody });
    render(
      <SignInScreen tokenServiceUrl="http://x" onSignedIn={jest.fn()} fetchImpl={fetchImpl} />,
    );
    fireEvent.press(screen.getByRole('button', { name: /sign in/i }));
    expect(screen.getByText('Enter your customer number.')).toBeTruthy();
    expect(fetchImpl).not.toHaveBeenCalled();
  });

  it('disables the form while the request is in flight', async () => {
    let resolve: (r: Response) => void = () => undefined;
    const fetchImpl = jest.fn(() => new Promise<Response>((r) => (resolve = r)));
    setup(fetchImpl as unknown as typeof fetch);
    expect(await screen.findByText('Signing in…')).toBeTruthy();
    expect(screen.getByRole('button', { name: /sign/i })).toBeDisabled();
    fireEvent.press(screen.getByRole('button', { name: /sign/i }));
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    const { jsonResponse } = jest.requireActual('./helpers/fakeFetch');
    resolve(jsonResponse({ status: 401, body: {} }));
    expect(await screen.findByTestId('sign-in-error')).toBeTruthy();
  });
});
