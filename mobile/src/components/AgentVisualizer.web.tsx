import { useMultibandTrackVolume } from '@livekit/components-react';
import { StyleSheet, View } from 'react-native';

import { colors } from '../theme';
import type { AgentVisualizerProps } from './AgentVisualizer';

const BARS = 7;
const MIN_HEIGHT = 0.15;

/**
 * Browser: @livekit/react-native's visualizer needs the native WebRTC module, so the
 * same bars are drawn from the Web Audio levels components-react measures.
 */
export function AgentVisualizer({ state, trackRef, style }: AgentVisualizerProps) {
  const levels = useMultibandTrackVolume(trackRef, { bands: BARS, loPass: 100, hiPass: 200 });
  const active = state === 'speaking' || state === 'listening';
  return (
    <View
      testID="agent-visualizer"
      accessibilityLabel={`visualizer ${state ?? 'idle'}`}
      style={[styles.row, style]}
    >
      {Array.from({ length: BARS }, (_, i) => (
        <View
          key={i}
          style={[
            styles.bar,
            {
              height: `${Math.round(100 * Math.max(MIN_HEIGHT, levels[i] ?? 0))}%`,
              opacity: active ? 1 : 0.4,
            },
          ]}
        />
      ))}
    </View>
  );
}

const styles = StyleSheet.create({
  row: { flexDirection: 'row', alignItems: 'center', justifyContent: 'center', gap: 6 },
  bar: { width: 14, borderRadius: 7, backgroundColor: colors.brand },
});
