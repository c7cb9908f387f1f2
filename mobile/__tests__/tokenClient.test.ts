import {
  isExpired,
  requestToken,
  tokenEndpoint,
  TokenServiceError,
  validateSignIn,
} from '../src/api/tokenClient';
import { fetchFailing, fetchReturning, okBody, TOKEN } from './helpers/fakeFetch';

const base = { baseUrl: 'http://localhost:8088', customerNumber: '1001', pin: '1234' };

async function failure(promise: Promise<unknown>): Promise<TokenServiceError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TokenServiceError);
    return error as TokenServiceError;
  }
  throw new Error('expected requestToken to fail');
}

describe('requestToken', () => {
  it('posts the customer number and PIN as JSON to /api/token', async () => {
    const fetchImpl = fetchReturning({ status: 200, body: okBody });
    await requestToken({ ...base, baseUrl: 'http://10.0.2.2:8088/', customerNumber: ' 1001 ', fetchImpl });
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    const [url, init] = fetchImpl.mock.calls[0]!;
    expect(url).toBe('http://10.0.2.2:8088/api/token');
    expect(init?.method).toBe('POST');
    expect((init?.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(JSON.parse(String(init?.body))).toEqual({ customer_number: '1001', pin: '1234' });
  });

  it('maps a 200 response to call credentials with an absolute expiry', async () => {
    const credentials = await requestToken({
      ...base,
      fetchImpl: fetchReturning({ status: 200, body: okBody }),
      now: () => 1_000_000,
    });
    expect(credentials).toMatchObject({
      serverUrl: 'ws://localhost:7880',
      participantToken: TOKEN,
      roomName: 'bank-1001-abc',
      identity: 'customer-1001',
      customerName: 'Alice Example',
      customerNumber: '1001',
      expiresAt: 1_000_000 + 900_000,
    });
  });

  it('never serialises the participant token', async () => {
    const credentials = await requestToken({
      ...base,
      fetchImpl: fetchReturning({ status: 200, body: okBody }),
    });
    expect(credentials.participantToken).toBe(TOKEN);
    expect(JSON.stringify(credentials)).not.toContain(TOKEN);
    expect(JSON.stringify(credentials)).toContain('<redacted>');
    expect(Object.keys(credentials)).not.toContain('participantToken');
  });

  it('401 -> invalid_credentials with a clear message', async () => {
    const error = await failure(
      requestToken({
        ...base,
        fetchImpl: fetchReturning({
          status: 401,
          body: { error: 'invalid_credentials', message: 'Customer number or PIN is incorrect' },
        }),
      }),
    );
    expect(error.kind).toBe('invalid_credentials');
    expect(error.status).toBe(401);
    expect(error.code).toBe('invalid_credentials');
    expect(error.message).toMatch(/customer number and PIN don't match/i);
  });

  it('423 -> locked, using retry_after_seconds from the body', async () => {
    const error = await failure(
      requestToken({
        ...base,
        fetchImpl: fetchReturning({
          status: 423,
          body: { error: 'locked', message: 'Too many attempts', retry_after_seconds: 300 },
        }),
      }),
    );
    expect(error.kind).toBe('locked');
    expect(error.retryAfterSeconds).toBe(300);
    expect(error.message).toMatch(/locked/i);
    expect(error.message).toContain('5 minutes');
  });

  it('400 -> bad_request', async () => {
    const error = await failure(
      requestToken({
        ...base,
        fetchImpl: fetchReturning({
          status: 400,
          body: { error: 'bad_request', message: 'The PIN must be 4 to 8 digits.' },
        }),
      }),
    );
    expect(error.kind).toBe('bad_request');
    // The server's reason, not a blanket "digits only".
    expect(error.message).toMatch(/PIN must be 4 to 8 digits/);
    expect(error.message).not.toMatch(/digits only/i);
  });

  it('429 -> throttled, honouring Retry-After', async () => {
    const error = await failure(
      requestToken({
        ...base,
        fetchImpl: fetchReturning({
          status: 429,
          body: { error: 'rate_limited', message: 'slow down' },
          headers: { 'Retry-After': '30' },
        }),
      }),
    );
    expect(error.kind).toBe('throttled');
    expect(error.retryAfterSeconds).toBe(30);
    expect(error.message).toMatch(/too many sign-in attempts/i);
    expect(error.message).toContain('30 seconds');
  });

  it('network failure -> unreachable', async () => {
    const error = await failure(requestToken({ ...base, fetchImpl: fetchFailing() }));
    expect(error.kind).toBe('unreachable');
    expect(error.message).toMatch(/can't reach/i);
  });

  it('times out a server that never answers as unreachable', async () => {
    const fetchImpl = jest.fn(
      (_url: RequestInfo | URL, init?: RequestInit) =>
        new Promise<Response>((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () => reject(new Error('aborted')));
        }),
    );
    const error = await failure(requestToken({ ...base, fetchImpl, timeoutMs: 10 }));
    expect(error.kind).toBe('unreachable');
  });

  it('5xx and non-JSON bodies -> server error', async () => {
    const error = await failure(
      requestToken({ ...base, fetchImpl: fetchReturning({ status: 502 }) }),
    );
    expect(error.kind).toBe('server');
    expect(error.message).toMatch(/having trouble/i);
  });

  it('200 without a token -> invalid_response', async () => {
    const error = await failure(
      requestToken({
        ...base,
        fetchImpl: fetchReturning({ status: 200, body: { server_url: 'ws://x' } }),
      }),
    );
    expect(error.kind).toBe('invalid_response');
  });
});

describe('validateSignIn', () => {
  it('requires both fields and digits only', () => {
    expect(validateSignIn('', '1234')).toMatch(/customer number/i);
    expect(validateSignIn('10a1', '1234')).toMatch(/digits/i);
    expect(validateSignIn('1001', '')).toMatch(/PIN/);
    expect(validateSignIn('1001', '12ab')).toMatch(/digits/);
    expect(validateSignIn(' 1001 ', '1234')).toBeNull();
  });
});

describe('helpers', () => {
  it('builds the endpoint without double slashes', () => {
    expect(tokenEndpoint('http://h:8088///')).toBe('http://h:8088/api/token');
  });

  it('treats credentials as expired shortly before expires_in elapses', () => {
    const creds = { expiresAt: 100_000 } as Parameters<typeof isExpired>[0];
    expect(isExpired(creds, 50_000)).toBe(false);
    expect(isExpired(creds, 95_000)).toBe(true);
  });
});
