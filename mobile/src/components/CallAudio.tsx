/** iOS/Android: react-native-webrtc plays remote audio tracks by itself. */
export function CallAudio() {
  return null;
}
