/// <reference types="node" />
import { execFileSync } from 'child_process';
import path from 'path';

/** What `expo prebuild` would write: the config after every plugin's mods (introspect mode). */
function introspect() {
  const root = path.resolve(__dirname, '..');
  const out = execFileSync(
    process.execPath,
    [require.resolve('expo/bin/cli'), 'config', '--type', 'introspect', '--json'],
    { cwd: root, env: { ...process.env, EXPO_NO_TELEMETRY: '1' }, encoding: 'utf8' },
  );
  return JSON.parse(out) as {
    _internal: {
      modResults: {
        android: {
          manifest: {
            manifest: { 'uses-permission': { $: Record<string, string> }[] };
          };
        };
        ios: { infoPlist: Record<string, unknown> };
      };
    };
  };
}

describe('prebuild permissions of a voice-only app', () => {
  // Spawns the Expo CLI: slow on a loaded box.
  jest.setTimeout(180_000);
  let config: ReturnType<typeof introspect>;
  beforeAll(() => {
    config = introspect();
  });

  it('Android keeps the microphone and removes camera, Bluetooth, overlay and storage', () => {
    const entries = config._internal.modResults.android.manifest.manifest['uses-permission'];
    const granted = entries.filter((e) => e.$['tools:node'] !== 'remove').map((e) => e.$['android:name']);
    const removed = entries.filter((e) => e.$['tools:node'] === 'remove').map((e) => e.$['android:name']);
    expect(granted).toEqual(
      expect.arrayContaining(['android.permission.RECORD_AUDIO', 'android.permission.INTERNET']),
    );
    for (const name of [
      'CAMERA',
      'SYSTEM_ALERT_WINDOW',
      'BLUETOOTH',
      'BLUETOOTH_CONNECT',
      'READ_EXTERNAL_STORAGE',
      'WRITE_EXTERNAL_STORAGE',
    ]) {
      expect(granted).not.toContain(`android.permission.${name}`);
      expect(removed).toContain(`android.permission.${name}`);
    }
  });

  it('iOS asks for the microphone only', () => {
    const plist = config._internal.modResults.ios.infoPlist;
    expect(plist.NSMicrophoneUsageDescription).toMatch(/microphone/);
    expect(plist).not.toHaveProperty('NSCameraUsageDescription');
  });
});
