import { tokenEndpoint } from '../src/api/tokenClient';
import {
  DEFAULT_TOKEN_SERVICE_URL,
  resolveAgentJoinTimeoutMs,
  resolveTokenServiceUrl,
} from '../src/config';

describe('resolveTokenServiceUrl', () => {
  it('prefers EXPO_PUBLIC_TOKEN_SERVICE_URL over app config extra', () => {
    expect(
      resolveTokenServiceUrl({
        env: 'https://support.example.com/',
        extra: { tokenServiceUrl: 'http://10.0.2.2:8088' },
      }),
    ).toBe('https://support.example.com');
  });

  it('falls back to expo.extra.tokenServiceUrl, then the default', () => {
    expect(resolveTokenServiceUrl({ extra: { tokenServiceUrl: 'http://10.0.2.2:8088' } })).toBe(
      'http://10.0.2.2:8088',
    );
    expect(resolveTokenServiceUrl({ env: '  ', extra: null })).toBe(DEFAULT_TOKEN_SERVICE_URL);
    expect(DEFAULT_TOKEN_SERVICE_URL).toBe('http://localhost:8088');
  });
});

describe('same-origin token service (web)', () => {
  it('keeps "/" as the page origin, so the app posts to /api/token', () => {
    const base = resolveTokenServiceUrl({ env: '/', extra: { tokenServiceUrl: 'http://x:1' } });
    expect(base).toBe('');
    expect(tokenEndpoint(base)).toBe('/api/token');
  });
});

describe('agent join timeout', () => {
  it('is 20 s unless EXPO_PUBLIC_AGENT_JOIN_TIMEOUT_MS gives a positive number', () => {
    expect(resolveAgentJoinTimeoutMs(undefined)).toBe(20_000);
    expect(resolveAgentJoinTimeoutMs('nonsense')).toBe(20_000);
    expect(resolveAgentJoinTimeoutMs('-5')).toBe(20_000);
    expect(resolveAgentJoinTimeoutMs('90000')).toBe(90_000);
  });
});
