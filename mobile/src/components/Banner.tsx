import { Pressable, StyleSheet, Text, View } from 'react-native';

import { colors, spacing } from '../theme';

export const MIN_TOUCH_TARGET = 44;

export type BannerTone = 'error' | 'warning' | 'info' | 'success';

export interface BannerProps {
  message: string;
  tone?: BannerTone;
  onDismiss?: () => void;
  testID?: string;
}

const TONES: Record<BannerTone, { bg: string; fg: string }> = {
  error: { bg: colors.dangerSurface, fg: colors.danger },
  warning: { bg: colors.warningSurface, fg: colors.warning },
  info: { bg: colors.agentBubble, fg: colors.brandDark },
  success: { bg: colors.successSurface, fg: colors.success },
};

export function Banner({ message, tone = 'info', onDismiss, testID }: BannerProps) {
  const palette = TONES[tone];
  return (
    <View
      testID={testID}
      accessibilityRole="alert"
      accessibilityLiveRegion="polite"
      style={[styles.banner, { backgroundColor: palette.bg }]}
    >
      <Text style={[styles.text, { color: palette.fg }]}>{message}</Text>
      {onDismiss ? (
        <Pressable
          testID={testID ? `${testID}-dismiss` : undefined}
          accessibilityRole="button"
          accessibilityLabel="Dismiss"
          onPress={onDismiss}
          style={styles.dismissTarget}
        >
          <Text style={[styles.dismiss, { color: palette.fg }]}>✕</Text>
        </Pressable>
      ) : null}
    </View>
  );
}

const styles = StyleSheet.create({
  banner: {
    flexDirection: 'row',
    alignItems: 'center',
    borderRadius: 10,
    paddingHorizontal: spacing(3),
    paddingVertical: spacing(2.5),
    gap: spacing(2),
  },
  text: { flex: 1, fontSize: 14, lineHeight: 20 },
  // 44 pt: Apple's minimum touch target (Android asks 48 dp; the banner row pads it).
  dismissTarget: {
    minWidth: MIN_TOUCH_TARGET,
    minHeight: MIN_TOUCH_TARGET,
    alignItems: 'center',
    justifyContent: 'center',
    marginVertical: -spacing(2),
  },
  dismiss: { fontSize: 16 },
});
