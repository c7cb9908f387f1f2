import { ConnectionError, ConnectionErrorReason } from 'livekit-client';

/**
 * User-facing text for a failed room.connect(). Never echoes the raw error: LiveKit
 * errors can carry the signalling URL, which includes the access token.
 */
export function describeConnectError(error: unknown): string {
  if (error instanceof ConnectionError) {
    switch (error.reason) {
      case ConnectionErrorReason.NotAllowed:
        return 'The voice service did not accept this session. Sign in again to call.';
      case ConnectionErrorReason.ServerUnreachable:
      case ConnectionErrorReason.WebSocket:
      case ConnectionErrorReason.Timeout:
        return "Can't reach the voice service. Check your internet connection and try again.";
      case ConnectionErrorReason.Cancelled:
      case ConnectionErrorReason.LeaveRequest:
        return 'The call was cancelled before it connected.';
      default:
        return 'The voice service had a problem starting the call. Please try again.';
    }
  }
  return "We couldn't start the call. Check your connection and try again.";
}

/** `name` of any thrown value: react-native-webrtc rejects getUserMedia with a plain object. */
function errorName(error: unknown): string {
  if (error && typeof error === 'object' && 'name' in error) {
    const { name } = error as { name: unknown };
    return typeof name === 'string' ? name : '';
  }
  return '';
}

/** The server refused the token itself: a new call with this sign-in will not help. */
export function connectErrorNeedsSignIn(error: unknown): boolean {
  return error instanceof ConnectionError && error.reason === ConnectionErrorReason.NotAllowed;
}

export function describeMicrophoneError(error: unknown): string {
  const name = errorName(error);
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return 'Microphone access is off. Allow microphone access in Settings so the assistant can hear you.';
  }
  return "We couldn't turn on your microphone. The assistant can't hear you until it works.";
}
