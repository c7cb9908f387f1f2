import { registerGlobals } from '@livekit/react-native';
import { LogLevel, setLogLevel } from 'livekit-client';

// Installs the WebRTC globals (RTCPeerConnection, mediaDevices, ...) livekit-client needs.
registerGlobals();

// Keep LiveKit's own logging at warnings: debug logs describe the signalling
// connection, and we never want anything near the access token in device logs.
setLogLevel(LogLevel.warn);
