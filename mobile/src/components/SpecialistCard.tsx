import { StyleSheet, Text, View } from 'react-native';

import { specialistDescription, specialistLabel } from '../call/specialist';
import { colors, spacing } from '../theme';

export interface SpecialistCardProps {
  specialist: string | undefined;
  /** False once the call is over: nobody is on the line any more. */
  live: boolean;
}

export function SpecialistCard({ specialist, live }: SpecialistCardProps) {
  const label = live ? specialistLabel(specialist) : undefined;
  const description = specialistDescription(label ? specialist : undefined);
  const caption = live ? 'On the line' : 'Not on a call';
  const text = live ? (label ?? 'Waiting for assistant…') : 'Call ended';
  return (
    <View
      testID="specialist-card"
      style={styles.card}
      accessibilityLiveRegion="polite"
      accessibilityLabel={
        !live ? 'Not on a call' : label ? `On the line: ${label}` : 'Waiting for the assistant to join'
      }
    >
      <Text style={styles.caption}>{caption}</Text>
      <Text testID="specialist-label" style={styles.label}>
        {text}
      </Text>
      {description ? <Text style={styles.description}>{description}</Text> : null}
    </View>
  );
}

const styles = StyleSheet.create({
  card: {
    backgroundColor: colors.brand,
    borderRadius: 16,
    paddingHorizontal: spacing(5),
    paddingVertical: spacing(4),
    gap: spacing(1),
  },
  caption: { color: '#C9D6F2', fontSize: 12, fontWeight: '600', textTransform: 'uppercase' },
  label: { color: '#FFFFFF', fontSize: 22, fontWeight: '700' },
  description: { color: '#E3EAF8', fontSize: 14 },
});
