import {
  RoomContext,
  useLocalParticipant,
  useTranscriptions,
  useVoiceAssistant,
} from '@livekit/components-react';
import { BarVisualizer } from '@livekit/react-native';
import type { Room } from 'livekit-client';
import { useMemo } from 'react';
import { StyleSheet, Text, View } from 'react-native';

import type { CallCredentials } from '../api/tokenClient';
import { deriveCallStatus } from '../call/callState';
import { specialistFromAttributes } from '../call/specialist';
import { mergeTranscript } from '../call/transcript';
import {
  SESSION_EXPIRED_MESSAGE,
  useCallSession,
  type AudioSessionControl,
  type CallSession,
} from '../call/useCallSession';
import { Banner } from '../components/Banner';
import { PrimaryButton } from '../components/PrimaryButton';
import { SpecialistCard } from '../components/SpecialistCard';
import { StatusIndicator } from '../components/StatusIndicator';
import { TranscriptList } from '../components/TranscriptList';
import { colors, spacing } from '../theme';

const TRANSCRIPT_LIMIT = 200;

export interface CallScreenProps {
  credentials: CallCredentials;
  onSignOut: (reason?: string) => void;
  /** Start a new call with a fresh room (same sign-in while the token is valid). */
  onCallAgain: () => void;
  createRoom?: () => Room;
  audioSession?: AudioSessionControl;
}

export function CallScreen({
  credentials,
  onSignOut,
  onCallAgain,
  createRoom,
  audioSession,
}: CallScreenProps) {
  const session = useCallSession({ credentials, createRoom, audioSession });
  return (
    <RoomContext.Provider value={session.room}>
      <CallContent
        session={session}
        credentials={credentials}
        onSignOut={onSignOut}
        onCallAgain={onCallAgain}
      />
    </RoomContext.Provider>
  );
}

interface CallContentProps {
  session: CallSession;
  credentials: CallCredentials;
  onSignOut: (reason?: string) => void;
  onCallAgain: () => void;
}

function CallContent({ session, credentials, onSignOut, onCallAgain }: CallContentProps) {
  const { room, state, isMuted, muteBusy, micError } = session;
  const { state: agentState, audioTrack, agentAttributes } = useVoiceAssistant();
  const { microphoneTrack, localParticipant } = useLocalParticipant({ room });
  const streams = useTranscriptions({ room });

  const localIdentity = credentials.identity || localParticipant.identity;
  const micSid = microphoneTrack?.trackSid;
  const transcript = useMemo(
    () =>
      mergeTranscript(streams, {
        localIdentity,
        localTrackSids: micSid ? [micSid] : [],
        limit: TRANSCRIPT_LIMIT,
      }),
    [streams, localIdentity, micSid],
  );

  const specialist = specialistFromAttributes(agentAttributes);
  const status = deriveCallStatus(state.phase, agentState);
  const live = state.phase === 'connected' || state.phase === 'reconnecting';
  const inCall = live || state.phase === 'connecting';
  const firstName = credentials.customerName.split(' ')[0];

  return (
    <View style={styles.container}>
      <View style={styles.header}>
        <View style={styles.headerText}>
          <Text style={styles.greeting} accessibilityRole="header">
            {firstName ? `Hi ${firstName}` : 'Support call'}
          </Text>
          <Text style={styles.subtle}>Customer {credentials.customerNumber}</Text>
        </View>
      </View>

      <SpecialistCard specialist={live ? specialist : undefined} />

      {state.notice ? (
        <Banner
          testID="connection-notice"
          message={state.notice}
          tone={state.phase === 'reconnecting' ? 'warning' : 'success'}
          onDismiss={state.phase === 'reconnecting' ? undefined : session.dismissNotice}
        />
      ) : null}
      {state.error ? <Banner testID="call-error" message={state.error} tone="error" /> : null}
      {micError && live ? <Banner testID="mic-error" message={micError} tone="warning" /> : null}

      <View style={styles.stage}>
        <StatusIndicator status={status} />
        <BarVisualizer
          state={live ? agentState : undefined}
          trackRef={audioTrack}
          barCount={7}
          options={{ barColor: colors.brand, minHeight: 0.15, barWidth: 14 }}
          style={styles.visualizer}
        />
      </View>

      <View style={styles.transcript}>
        <TranscriptList lines={transcript} agentName="Assistant" />
      </View>

      <View style={styles.controls}>
        {inCall ? (
          <>
            <PrimaryButton
              testID="mute-button"
              label={isMuted ? 'Unmute' : 'Mute'}
              accessibilityLabel={isMuted ? 'Unmute microphone' : 'Mute microphone'}
              variant="secondary"
              disabled={state.phase !== 'connected'}
              busy={muteBusy}
              onPress={() => void session.toggleMute()}
              style={styles.controlButton}
            />
            <PrimaryButton
              testID="end-call-button"
              label="End call"
              variant="danger"
              onPress={() => void session.disconnect()}
              style={styles.controlButton}
            />
          </>
        ) : (
          <>
            {session.canRejoin ? (
              <PrimaryButton
                testID="call-again-button"
                label="Call again"
                onPress={onCallAgain}
                style={styles.controlButton}
              />
            ) : null}
            <PrimaryButton
              testID="sign-out-button"
              label="Sign out"
              variant="secondary"
              onPress={() =>
                onSignOut(session.canRejoin ? undefined : SESSION_EXPIRED_MESSAGE)
              }
              style={styles.controlButton}
            />
          </>
        )}
      </View>
    </View>
  );
}

const styles = StyleSheet.create({
  container: { flex: 1, padding: spacing(4), gap: spacing(3) },
  header: { flexDirection: 'row', alignItems: 'center' },
  headerText: { flex: 1 },
  greeting: { fontSize: 22, fontWeight: '700', color: colors.text },
  subtle: { fontSize: 13, color: colors.muted },
  stage: { alignItems: 'center', gap: spacing(3) },
  visualizer: { height: 64, width: '70%' },
  transcript: {
    flex: 1,
    backgroundColor: colors.surface,
    borderRadius: 16,
    borderWidth: 1,
    borderColor: colors.border,
    overflow: 'hidden',
  },
  controls: { flexDirection: 'row', gap: spacing(3) },
  controlButton: { flex: 1 },
});
