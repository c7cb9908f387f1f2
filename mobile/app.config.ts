import type { ConfigContext, ExpoConfig } from 'expo/config';

/**
 * Base URL of the bank's token service (see `token_service` in the repo root).
 * Not a secret: it is a public endpoint that exchanges a customer number + PIN
 * for a short-lived LiveKit participant token. Override per environment with
 * EXPO_PUBLIC_TOKEN_SERVICE_URL (read at build time and again at run time).
 */
const DEFAULT_TOKEN_SERVICE_URL = 'http://localhost:8088';

export default ({ config }: ConfigContext): ExpoConfig => ({
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
