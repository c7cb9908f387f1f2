import { BarVisualizer } from '@livekit/react-native';
import type { TrackReferenceOrPlaceholder } from '@livekit/components-react';
import type { ViewStyle } from 'react-native';

import { colors } from '../theme';

export interface AgentVisualizerProps {
  state: string | undefined;
  trackRef: TrackReferenceOrPlaceholder | undefined;
  style?: ViewStyle;
}

/** iOS/Android: LiveKit's native bar visualizer (AgentVisualizer.web.tsx for the browser). */
export function AgentVisualizer({ state, trackRef, style }: AgentVisualizerProps) {
  return (
    <BarVisualizer
      state={state as never}
      trackRef={trackRef}
      barCount={7}
      options={{ barColor: colors.brand, minHeight: 0.15, barWidth: 14 }}
      style={style}
    />
  );
}
