/* eslint-disable @typescript-eslint/no-require-imports */
// @livekit/react-native needs its native module (WebRTC, audio session), which does not
// exist under Jest. Mock it at that boundary; livekit-client and
// @livekit/components-react stay real and run against a Room that never connects.
jest.mock('@livekit/react-native', () => {
  const React = require('react');
  const { View, Text } = require('react-native');
  const BarVisualizer = ({ state, barCount }: { state?: string; barCount?: number }) =>
    React.createElement(
      View,
      { testID: 'agent-visualizer', accessibilityLabel: `visualizer ${state ?? 'idle'}` },
      React.createElement(Text, null, `bars:${barCount ?? 5}:${state ?? 'idle'}`),
    );
  return {
    registerGlobals: jest.fn(),
    setLogLevel: jest.fn(),
    AudioSession: {
      configureAudio: jest.fn(async () => undefined),
      startAudioSession: jest.fn(async () => undefined),
      stopAudioSession: jest.fn(async () => undefined),
    },
    BarVisualizer,
  };
});

jest.mock('react-native-safe-area-context', () =>
  require('react-native-safe-area-context/jest/mock').default,
);
