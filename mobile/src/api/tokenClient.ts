/**
 * Client for the bank's token service (`python -m token_service`).
 *
 * POST {base}/api/token {"customer_number", "pin"} -> a short-lived LiveKit
 * participant token. The token is a bearer credential: never log it, never put it
 * in an error message. `CallCredentials` redacts it when serialised.
 */

export type TokenErrorKind =
  | 'invalid_credentials' // 401
  | 'locked' // 423
  | 'bad_request' // 400
  | 'throttled' // 429
  | 'unreachable' // network failure / timeout
  | 'server' // 5xx or anything unexpected
  | 'invalid_response'; // 200 with a body we cannot use

export class TokenServiceError extends Error {
  readonly kind: TokenErrorKind;
  readonly status?: number;
  readonly code?: string;
  readonly serverMessage?: string;
  readonly retryAfterSeconds?: number;

  constructor(
    kind: TokenErrorKind,
    options: {
      status?: number;
      code?: string;
      serverMessage?: string;
      retryAfterSeconds?: number;
    } = {},
  ) {
    super(describeTokenError(kind, options.retryAfterSeconds, options.serverMessage));
    this.name = 'TokenServiceError';
    this.kind = kind;
    this.status = options.status;
    this.code = options.code;
    this.serverMessage = options.serverMessage;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export interface CallCredentials {
  serverUrl: string;
  participantToken: string;
  roomName: string;
  identity: string;
  customerName: string;
  customerNumber: string;
  /** Epoch milliseconds after which the participant token can no longer join. */
  expiresAt: number;
}

export interface RequestTokenOptions {
  baseUrl: string;
  customerNumber: string;
  pin: string;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
  now?: () => number;
}

function formatWait(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.ceil(seconds))} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/** User-facing text for each failure. */
export function describeTokenError(
  kind: TokenErrorKind,
  retryAfterSeconds?: number,
  serverMessage?: string,
): string {
  switch (kind) {
    case 'invalid_credentials':
      return "That customer number and PIN don't match our records. Check them and try again.";
    case 'locked':
      return retryAfterSeconds && retryAfterSeconds > 0
        ? `For your security, sign-in is locked after too many failed attempts. Try again in ${formatWait(retryAfterSeconds)}.`
        : 'For your security, sign-in is locked after too many failed attempts. Try again later.';
    case 'bad_request':
      // The server says which field it refused ("The PIN must be 4 to 8 digits.").
      return serverMessage
        ? `The sign-in details were not accepted. ${serverMessage}`
        : 'The sign-in details were not accepted. Check your customer number and PIN.';
    case 'throttled':
      return retryAfterSeconds && retryAfterSeconds > 0
        ? `Too many sign-in attempts. Please wait ${formatWait(retryAfterSeconds)} and try again.`
        : 'Too many sign-in attempts. Please wait a moment and try again.';
    case 'unreachable':
      return "Can't reach the bank's support service. Check your internet connection and try again.";
    case 'invalid_response':
      return 'The support service sent an unexpected reply. Please try again shortly.';
    case 'server':
    default:
      return serverMessage
        ? `The support service had a problem: ${serverMessage}`
        : 'The support service is having trouble right now. Please try again shortly.';
  }
}

/**
 * The token service's rules (token_service/app.py `_parse_login`), stated once on this side.
 * Both sides are tested against the same cases in tests/data/credential_rules.json.
 */
export const CUSTOMER_NUMBER_MAX_DIGITS = 20;
export const PIN_MIN_DIGITS = 4;
export const PIN_MAX_DIGITS = 8;
const ASCII_DIGITS = /^[0-9]+$/;

/** Local checks before we bother the server. Returns an error message or null. */
export function validateSignIn(customerNumber: string, pin: string): string | null {
  // The server trims the customer number but not the PIN.
  const number = customerNumber.trim();
  if (number.length === 0) return 'Enter your customer number.';
  if (!ASCII_DIGITS.test(number)) return 'Your customer number contains digits only.';
  if (number.length > CUSTOMER_NUMBER_MAX_DIGITS) {
    return `Your customer number has at most ${CUSTOMER_NUMBER_MAX_DIGITS} digits.`;
  }
  if (pin.length === 0) return 'Enter your PIN.';
  if (!ASCII_DIGITS.test(pin) || pin.length < PIN_MIN_DIGITS || pin.length > PIN_MAX_DIGITS) {
    return `Your PIN is ${PIN_MIN_DIGITS} to ${PIN_MAX_DIGITS} digits.`;
  }
  return null;
}

function statusToKind(status: number): TokenErrorKind {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'invalid_credentials';
    case 423:
      return 'locked';
    case 429:
      return 'throttled';
    default:
      return 'server';
  }
}

async function readJson(response: Response): Promise<Record<string, unknown> | null> {
  try {
    const body: unknown = await response.json();
    return body && typeof body === 'object' ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) {
    return Number(value);
  }
  return undefined;
}

export function tokenEndpoint(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/api/token`;
}

export async function requestToken({
  baseUrl,
  customerNumber,
  pin,
  fetchImpl = fetch,
  timeoutMs = 15000,
  now = Date.now,
}: RequestTokenOptions): Promise<CallCredentials> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response: Response;
  try {
    response = await fetchImpl(tokenEndpoint(baseUrl), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ customer_number: customerNumber.trim(), pin }),
      signal: controller.signal,
    });
  } catch {
    // fetch only rejects on network failure (or our timeout abort).
    throw new TokenServiceError('unreachable');
  } finally {
    clearTimeout(timer);
  }

  const body = await readJson(response);

  if (!response.ok) {
    const headerRetry = asNumber(response.headers?.get?.('Retry-After') ?? undefined);
    throw new TokenServiceError(statusToKind(response.status), {
      status: response.status,
      code: asString(body?.error),
      serverMessage: asString(body?.message),
      retryAfterSeconds: asNumber(body?.retry_after_seconds) ?? headerRetry,
    });
  }

  const serverUrl = asString(body?.server_url);
  const participantToken = asString(body?.participant_token);
  if (!body || !serverUrl || !participantToken) {
    throw new TokenServiceError('invalid_response', { status: response.status });
  }
  const expiresIn = asNumber(body.expires_in) ?? 600;

  const credentials: CallCredentials = {
    serverUrl,
    participantToken,
    roomName: asString(body.room_name) ?? '',
    identity: asString(body.identity) ?? '',
    customerName: asString(body.customer_name) ?? '',
    customerNumber: customerNumber.trim(),
    expiresAt: now() + expiresIn * 1000,
  };
  return redactOnSerialise(credentials);
}

/** Make JSON.stringify / console output of credentials safe by hiding the token. */
export function redactOnSerialise(credentials: CallCredentials): CallCredentials {
  Object.defineProperty(credentials, 'participantToken', {
    value: credentials.participantToken,
    enumerable: false,
    writable: false,
    configurable: false,
  });
  Object.defineProperty(credentials, 'toJSON', {
    value: () => ({
      ...credentials,
      participantToken: '<redacted>',
    }),
    enumerable: false,
  });
  return credentials;
}

export function isExpired(credentials: CallCredentials, now: number = Date.now()): boolean {
  // Leave a margin so we don't start a join that the server will reject.
  return now >= credentials.expiresAt - 10_000;
}

export function errorMessage(error: unknown): string {
  if (error instanceof TokenServiceError) return error.message;
  return describeTokenError('server');
}

/**
 * A signed-in session's source of call tokens. The token service mints a new room
 * (`bank-<uuid>`) and identity per POST, and dispatch comes from the token's room
 * configuration when the room is created, so every call needs its own token. The service
 * has no renewal endpoint, so the PIN is kept in this closure, in memory only, for as long
 * as the customer stays signed in: never stored, never logged, gone at sign-out.
 */
export interface CallTokenSource {
  readonly customerNumber: string;
  /** POST /api/token again: a fresh token, room and identity for the next call. */
  next: () => Promise<CallCredentials>;
}

export function createCallTokenSource(
  options: Omit<RequestTokenOptions, 'customerNumber'> & { customerNumber: string },
): CallTokenSource {
  const customerNumber = options.customerNumber.trim();
  return {
    customerNumber,
    next: () => requestToken({ ...options, customerNumber }),
  };
}

/** Errors that mean the stored sign-in no longer works: go back to the sign-in screen. */
export function requiresSignIn(error: unknown): boolean {
  return (
    error instanceof TokenServiceError &&
    (error.kind === 'invalid_credentials' || error.kind === 'locked' || error.kind === 'bad_request')
  );
}
