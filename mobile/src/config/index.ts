import Constants from 'expo-constants';
import { AGENT_JOIN_TIMEOUT_MS } from '../call/callState';

export const DEFAULT_TOKEN_SERVICE_URL = 'http://localhost:8088';

export interface TokenServiceUrlSources {
  /** Value of EXPO_PUBLIC_TOKEN_SERVICE_URL inlined into the bundle, if any. */
  env?: string | null;
  /** `expo.extra` from app.config.ts, as exposed by expo-constants. */
  extra?: Record<string, unknown> | null;
}

function clean(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (trimmed.length === 0) return undefined;
  // A path ("/" or "/bank") is the web app's own origin: a site that serves the app and
  // proxies /api/token needs no CORS and no per-deployment build. Browser only.
  return trimmed.replace(/\/+$/, '');
}

/**
 * The token service URL: the EXPO_PUBLIC_TOKEN_SERVICE_URL environment variable wins,
 * then `expo.extra.tokenServiceUrl` from the app config, then the local default.
 * "/" resolves to "" (same origin: the app posts to `/api/token`).
 */
export function resolveTokenServiceUrl(sources: TokenServiceUrlSources): string {
  return (
    clean(sources.env) ?? clean(sources.extra?.tokenServiceUrl) ?? DEFAULT_TOKEN_SERVICE_URL
  );
}

export function getTokenServiceUrl(): string {
  return resolveTokenServiceUrl({
    // Expo inlines EXPO_PUBLIC_* variables at bundle time; it must be referenced literally.
    env: process.env.EXPO_PUBLIC_TOKEN_SERVICE_URL,
    extra: (Constants.expoConfig?.extra as Record<string, unknown> | undefined) ?? null,
  });
}

/**
 * How long a call waits for the agent before failing: LiveKit's starter uses about 20 s.
 * EXPO_PUBLIC_AGENT_JOIN_TIMEOUT_MS raises it where agents start cold on slow machines
 * (the browser test on a loaded CI box); anything not a positive number is ignored.
 */
export function resolveAgentJoinTimeoutMs(env: string | null | undefined): number {
  const value = Number(env);
  return Number.isFinite(value) && value > 0 ? value : AGENT_JOIN_TIMEOUT_MS;
}

export function getAgentJoinTimeoutMs(): number {
  return resolveAgentJoinTimeoutMs(process.env.EXPO_PUBLIC_AGENT_JOIN_TIMEOUT_MS);
}
