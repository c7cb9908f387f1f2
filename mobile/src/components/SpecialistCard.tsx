import { StyleSheet, Text, View } from 'react-native';

import { specialistDescription, specialistLabel } from '../call/specialist';
import { colors, spacing } from '../theme';

export function SpecialistCard({ specialist }: { specialist: string | undefined }) {
  const label = specialistLabel(specialist);
  const description = specialistDescription(specialist);
  return (
    <View
      testID="specialist-card"
      style={styles.card}
      accessibilityLiveRegion="polite"
      accessibilityLabel={label ? `On the line: ${label}` : 'Waiting for the assistant to join'}
    >
      <Text style={styles.caption}>On the line</Text>
      <Text testID="specialist-label" style={styles.label}>
        {label ?? 'Waiting for assistant…'}
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
