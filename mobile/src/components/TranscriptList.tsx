import { useRef } from 'react';
import { ScrollView, StyleSheet, Text, View } from 'react-native';

import { specialistLabel } from '../call/specialist';
import type { TranscriptLine } from '../call/transcript';
import { colors, spacing } from '../theme';

export interface TranscriptListProps {
  lines: readonly TranscriptLine[];
  /** Label for an agent line whose desk is unknown. */
  agentName?: string;
}

/** Agent lines are labelled by the desk that said them, so handoffs show. */
function speakerLabel(line: TranscriptLine, agentName: string): string {
  if (line.speaker === 'customer') return 'You';
  return specialistLabel(line.desk) ?? agentName;
}

export function TranscriptList({ lines, agentName = 'Assistant' }: TranscriptListProps) {
  const scrollRef = useRef<ScrollView>(null);
  return (
    <ScrollView
      ref={scrollRef}
      testID="transcript"
      style={styles.scroll}
      contentContainerStyle={styles.content}
      onContentSizeChange={() => scrollRef.current?.scrollToEnd({ animated: true })}
      accessibilityLabel="Conversation transcript"
    >
      {lines.length === 0 ? (
        <Text style={styles.empty}>The conversation will appear here as you talk.</Text>
      ) : (
        lines.map((line) => {
          const mine = line.speaker === 'customer';
          return (
            <View
              key={line.id}
              testID={`transcript-line-${line.speaker}`}
              style={[styles.row, mine ? styles.rowMine : styles.rowAgent]}
            >
              <Text testID="transcript-speaker" style={styles.speaker}>
                {speakerLabel(line, agentName)}
              </Text>
              <View style={[styles.bubble, mine ? styles.bubbleMine : styles.bubbleAgent]}>
                <Text
                  testID={line.final ? 'transcript-text-final' : 'transcript-text-interim'}
                  style={[
                    styles.text,
                    mine ? styles.textMine : styles.textAgent,
                    !line.final && styles.interim,
                  ]}
                >
                  {line.text}
                </Text>
              </View>
            </View>
          );
        })
      )}
    </ScrollView>
  );
}

const styles = StyleSheet.create({
  scroll: { flex: 1 },
  content: { padding: spacing(4), gap: spacing(3) },
  empty: { color: colors.muted, textAlign: 'center', marginTop: spacing(6) },
  row: { maxWidth: '85%', gap: spacing(1) },
  rowMine: { alignSelf: 'flex-end', alignItems: 'flex-end' },
  rowAgent: { alignSelf: 'flex-start' },
  speaker: { fontSize: 12, color: colors.muted, fontWeight: '600' },
  bubble: { borderRadius: 14, paddingHorizontal: spacing(3), paddingVertical: spacing(2) },
  bubbleMine: { backgroundColor: colors.customerBubble },
  bubbleAgent: { backgroundColor: colors.agentBubble },
  text: { fontSize: 15, lineHeight: 21 },
  textMine: { color: '#FFFFFF' },
  textAgent: { color: colors.text },
  interim: { opacity: 0.7, fontStyle: 'italic' },
});
