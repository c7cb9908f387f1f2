import { RoomAudioRenderer } from '@livekit/components-react';

/** Browser: remote audio plays only through <audio> elements, which this renders. */
export function CallAudio() {
  return <RoomAudioRenderer />;
}
