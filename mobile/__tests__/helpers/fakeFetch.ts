export interface FakeResponseInit {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A minimal fetch Response stand-in: status, ok, headers.get and json(). */
export function jsonResponse({ status, body, headers = {} }: FakeResponseInit): Response {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: { get: (name: string) => lower[name.toLowerCase()] ?? null },
    json: async () => {
      if (body === undefined) throw new SyntaxError('Unexpected end of JSON input');
      return body;
    },
  } as unknown as Response;
}

export const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.secret-participant-token.sig';

export const okBody = {
  server_url: 'ws://localhost:7880',
  participant_token: TOKEN,
  room_name: 'bank-1001-abc',
  identity: 'customer-1001',
  customer_name: 'Alice Example',
  expires_in: 900,
};

export function fetchReturning(init: FakeResponseInit) {
  return jest.fn(async (_input: RequestInfo | URL, _init?: RequestInit) => jsonResponse(init));
}

export function fetchFailing(message = 'Network request failed') {
  return jest.fn(async (_input: RequestInfo | URL, _init?: RequestInit): Promise<Response> => {
    throw new TypeError(message);
  });
}
