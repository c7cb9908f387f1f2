import type { ConfigContext, ExpoConfig } from 'expo/config';
import { withInfoPlist, type ConfigPlugin } from 'expo/config-plugins';

/**
 * Base URL of the bank's token service (see `token_service` in the repo root).
 * Not a secret: it is a public endpoint that exchanges a customer number + PIN
 * for a short-lived LiveKit participant token. Override per environment with
 * EXPO_PUBLIC_TOKEN_SERVICE_URL (read at build time and again at run time).
 */
const DEFAULT_TOKEN_SERVICE_URL = 'http://localhost:8088';

export const VOICE_APP_BLOCKED_PERMISSIONS = [
  'android.permission.CAMERA',
  'android.permission.SYSTEM_ALERT_WINDOW',
  'android.permission.BLUETOOTH',
  'android.permission.BLUETOOTH_ADMIN',
  'android.permission.BLUETOOTH_CONNECT',
  'android.permission.BLUETOOTH_SCAN',
  'android.permission.READ_EXTERNAL_STORAGE',
  'android.permission.WRITE_EXTERNAL_STORAGE',
];

/** The WebRTC plugin always writes a camera purpose string; a voice-only app asks for none. */
const withoutCameraUsage: ConfigPlugin = (config) =>
  withInfoPlist(config, (plist) => {
    delete plist.modResults.NSCameraUsageDescription;
    return plist;
  });

// Wrapping the result registers this mod before the `plugins` below are applied, and mods
// run last-registered first: so it sees (and edits) the WebRTC plugin's Info.plist.
export default ({ config }: ConfigContext): ExpoConfig => withoutCameraUsage(appConfig(config));

const appConfig = (config: ConfigContext['config']): ExpoConfig => ({
  ...config,
  name: 'Bank Voice Desk',
  slug: 'bank-voice-desk',
  scheme: 'bankvoicedesk',
  version: '1.0.0',
  orientation: 'portrait',
  icon: './assets/icon.png',
  ios: {
    supportsTablet: true,
    bundleIdentifier: 'com.example.bankvoicedesk',
    infoPlist: {
      NSMicrophoneUsageDescription:
        'The support desk needs your microphone so you can talk to the voice assistant.',
      UIBackgroundModes: ['audio'],
    },
  },
  android: {
    package: 'com.example.bankvoicedesk',
    adaptiveIcon: {
      backgroundColor: '#E6F4FE',
      foregroundImage: './assets/android-icon-foreground.png',
      backgroundImage: './assets/android-icon-background.png',
      monochromeImage: './assets/android-icon-monochrome.png',
    },
    permissions: [
      'android.permission.RECORD_AUDIO',
      'android.permission.MODIFY_AUDIO_SETTINGS',
      'android.permission.ACCESS_NETWORK_STATE',
      'android.permission.INTERNET',
    ],
    // A voice-only app: the WebRTC config plugin adds the video-call set too; prebuild
    // writes these as tools:node="remove" so no merged manifest (libraries included) keeps them.
    blockedPermissions: VOICE_APP_BLOCKED_PERMISSIONS,
    predictiveBackGestureEnabled: false,
  },
  web: {
    favicon: './assets/favicon.png',
  },
  plugins: [
    [
      '@livekit/react-native-expo-plugin',
      {
        android: { audioType: 'communication' },
      },
    ],
    [
      '@config-plugins/react-native-webrtc',
      {
        microphonePermission:
          'The support desk needs your microphone so you can talk to the voice assistant.',
      },
    ],
  ],
  extra: {
    ...config.extra,
    tokenServiceUrl: process.env.EXPO_PUBLIC_TOKEN_SERVICE_URL || DEFAULT_TOKEN_SERVICE_URL,
  },
});
