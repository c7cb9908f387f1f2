import { Room } from 'livekit-client';

/** A fresh voice-only room for one support call. */
export function createVoiceRoom(): Room {
  return new Room({
    adaptiveStream: false,
    dynacast: false,
    audioCaptureDefaults: {
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
    },
  });
}
