import { useEffect, useState } from 'react';
import { AccessibilityInfo, Modal, StyleSheet, Text, View } from 'react-native';

import { describeRequest } from '../call/confirmation';
import type { PendingConfirmation } from '../call/useConfirmationRequests';
import { colors, spacing } from '../theme';
import { PrimaryButton } from './PrimaryButton';

export interface ConfirmationSheetProps {
  request: PendingConfirmation | null;
  onConfirm: () => void;
  onCancel: () => void;
}

/** Whole seconds left until `deadline` (epoch ms), ticking once a second. */
function Countdown({ deadline }: { deadline: number }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const tick = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(tick);
  }, []);
  const seconds = Math.max(0, Math.ceil((deadline - now) / 1000));
  return (
    <Text testID="confirm-sheet-timer" style={styles.timer}>
      {`Expires in ${seconds} s. You can also answer by voice.`}
    </Text>
  );
}

/**
 * The agent asks the caller to confirm a card change: Confirm / Cancel, the same action
 * and card the agent read back, and the time left. Answering by voice works too; the agent
 * then withdraws the sheet.
 */
export function ConfirmationSheet({ request, onConfirm, onCancel }: ConfirmationSheetProps) {
  const copy = request ? describeRequest(request) : null;

  useEffect(() => {
    // Screen readers hear the question as soon as it appears.
    if (copy) AccessibilityInfo.announceForAccessibility(`${copy.title} ${copy.detail}`);
  }, [copy?.title, copy?.detail]); // eslint-disable-line react-hooks/exhaustive-deps

  return (
    <Modal
      visible={request !== null}
      transparent
      animationType="slide"
      onRequestClose={onCancel}
      testID="confirm-sheet-modal"
    >
      <View style={styles.backdrop}>
        {copy ? (
          <View
            testID="confirm-sheet"
            style={styles.sheet}
            accessibilityViewIsModal
            accessibilityLabel="Confirm card change"
          >
            <Text testID="confirm-sheet-title" style={styles.title} accessibilityRole="header">
              {copy.title}
            </Text>
            <Text style={styles.detail}>{copy.detail}</Text>
            {request ? <Countdown key={request.id} deadline={request.deadline} /> : null}
            <View style={styles.buttons}>
              <PrimaryButton
                testID="confirm-sheet-cancel"
                label="Cancel"
                accessibilityLabel="Cancel, change nothing"
                variant="secondary"
                onPress={onCancel}
                style={styles.button}
              />
              <PrimaryButton
                testID="confirm-sheet-confirm"
                label={copy.confirmLabel}
                accessibilityLabel={`Confirm: ${copy.title.replace(/\?$/, '')}`}
                variant={request?.action === 'unlock' ? 'primary' : 'danger'}
                onPress={onConfirm}
                style={styles.button}
              />
            </View>
          </View>
        ) : null}
      </View>
    </Modal>
  );
}

const styles = StyleSheet.create({
  backdrop: { flex: 1, justifyContent: 'flex-end', backgroundColor: 'rgba(20, 33, 61, 0.45)' },
  sheet: {
    backgroundColor: colors.surface,
    borderTopLeftRadius: 20,
    borderTopRightRadius: 20,
    padding: spacing(5),
    gap: spacing(3),
  },
  title: { fontSize: 20, fontWeight: '700', color: colors.text },
  detail: { fontSize: 15, lineHeight: 21, color: colors.text },
  timer: { fontSize: 13, color: colors.muted },
  buttons: { flexDirection: 'row', gap: spacing(3), marginTop: spacing(2) },
  button: { flex: 1 },
});
