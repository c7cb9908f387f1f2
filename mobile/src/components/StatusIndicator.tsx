import { StyleSheet, Text, View } from 'react-native';

import type { CallStatus } from '../call/callState';
import { colors, spacing } from '../theme';

const DOT: Record<CallStatus['key'], string> = {
  idle: colors.muted,
  connecting: '#B7791F',
  reconnecting: '#B7791F',
  waiting: '#B7791F',
  listening: '#1E6B3A',
  thinking: '#6B46C1',
  speaking: colors.brand,
  ended: colors.muted,
  failed: colors.danger,
};

export function StatusIndicator({ status }: { status: CallStatus }) {
  return (
    <View
      testID="agent-status"
      accessibilityLabel={`Assistant status: ${status.label}`}
      accessibilityLiveRegion="polite"
      style={styles.pill}
    >
      <View style={[styles.dot, { backgroundColor: DOT[status.key] }]} />
      <Text testID="agent-status-label" style={styles.label}>
        {status.label}
      </Text>
    </View>
  );
}

const styles = StyleSheet.create({
  pill: {
    flexDirection: 'row',
    alignItems: 'center',
    alignSelf: 'center',
    gap: spacing(2),
    backgroundColor: colors.surface,
    borderRadius: 999,
    paddingHorizontal: spacing(4),
    paddingVertical: spacing(1.5),
    borderWidth: 1,
    borderColor: colors.border,
  },
  dot: { width: 10, height: 10, borderRadius: 5 },
  label: { fontSize: 15, fontWeight: '600', color: colors.text },
});
