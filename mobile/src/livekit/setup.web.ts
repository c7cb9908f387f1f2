import { LogLevel, setLogLevel } from 'livekit-client';

// In the browser livekit-client uses the browser's own WebRTC: no globals to register
// (setup.ts does that on iOS/Android through @livekit/react-native).
// Warnings only: debug logs describe the signalling connection, token included.
setLogLevel(LogLevel.warn);
