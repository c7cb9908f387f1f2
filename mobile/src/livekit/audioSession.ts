import { AudioSession } from '@livekit/react-native';

/** iOS/Android: the native audio session (voice-call routing, Bluetooth, earpiece). */
export const defaultAudioSession = AudioSession;
