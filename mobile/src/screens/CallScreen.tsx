import { RoomContext, useLocalParticipant, useVoiceAssistant } from '@livekit/components-react';
import type { Room } from 'livekit-client';
import { useMemo, useState } from 'react';
import { StyleSheet, Text, TextInput, View } from 'react-native';

import { errorMessage, type CallCredentials } from '../api/tokenClient';
import { deriveCallStatus } from '../call/callState';
import { specialistFromAttributes } from '../call/specialist';
import { mergeTranscript } from '../call/transcript';
import {
  useCallSession,
  type AudioSessionControl,
  type CallSession,
} from '../call/useCallSession';
import { useConfirmationRequests } from '../call/useConfirmationRequests';
import { useTranscriptStreams } from '../call/useTranscriptStreams';
import { AgentVisualizer } from '../components/AgentVisualizer';
import { Banner } from '../components/Banner';
import { CallAudio } from '../components/CallAudio';
import { ConfirmationSheet } from '../components/ConfirmationSheet';
import { PrimaryButton } from '../components/PrimaryButton';
import { SpecialistCard } from '../components/SpecialistCard';
import { StatusIndicator } from '../components/StatusIndicator';
import { TranscriptList } from '../components/TranscriptList';
import { colors, spacing } from '../theme';

const SIGN_IN_AGAIN = 'Sign in again to call.';

const TRANSCRIPT_LIMIT = 200;

export interface CallScreenProps {
  credentials: CallCredentials;
  onSignOut: (reason?: string) => void;
  /** Start a new call: a fresh token, room and identity from the token service. */
  onCallAgain: () => Promise<void> | void;
  createRoom?: () => Room;
  audioSession?: AudioSessionControl;
  agentJoinTimeoutMs?: number;
}

export function CallScreen({
  credentials,
  onSignOut,
  onCallAgain,
  createRoom,
  audioSession,
  agentJoinTimeoutMs,
}: CallScreenProps) {
  const session = useCallSession({ credentials, createRoom, audioSession, agentJoinTimeoutMs });
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
  onCallAgain: () => Promise<void> | void;
}

function CallContent({ session, credentials, onSignOut, onCallAgain }: CallContentProps) {
  const { room, state, isMuted, muteBusy, micError } = session;
  const { state: agentState, audioTrack, agentAttributes } = useVoiceAssistant();
  const { microphoneTrack, localParticipant } = useLocalParticipant({ room });
  const { streams, addTypedLine } = useTranscriptStreams(room);
  // The agent asks here to confirm a card change (RPC bank.confirm); a tap answers it.
  const confirmation = useConfirmationRequests(room);
  const [draft, setDraft] = useState('');
  const [chatError, setChatError] = useState<string | null>(null);
  const [callAgainBusy, setCallAgainBusy] = useState(false);
  const [callAgainError, setCallAgainError] = useState<string | null>(null);

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
  // A rejected or expired token needs the sign-in screen, not another call.
  const { signInRequired } = state;

  const sendDraft = async () => {
    const text = draft.trim();
    if (!text || state.phase !== 'connected') return;
    setDraft('');
    setChatError(null);
    try {
      await session.sendChat(text);
      addTypedLine(localIdentity, text);
    } catch {
      setDraft(text);
      setChatError("Your message wasn't sent. Please try again.");
    }
  };

  const callAgain = async () => {
    if (callAgainBusy) return;
    setCallAgainBusy(true);
    setCallAgainError(null);
    try {
      await onCallAgain();
    } catch (error) {
      setCallAgainError(errorMessage(error));
      setCallAgainBusy(false);
    }
  };

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

      <CallAudio />
      <ConfirmationSheet
        request={live ? confirmation.pending : null}
        onConfirm={confirmation.confirm}
        onCancel={confirmation.cancel}
      />
      <SpecialistCard specialist={specialist} live={inCall} />

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
      {chatError && live ? (
        <Banner
          testID="chat-error"
          message={chatError}
          tone="warning"
          onDismiss={() => setChatError(null)}
        />
      ) : null}
      {callAgainError ? (
        <Banner testID="call-again-error" message={callAgainError} tone="error" />
      ) : null}

      <View style={styles.stage}>
        <StatusIndicator status={status} />
        <AgentVisualizer
          state={live ? agentState : undefined}
          trackRef={audioTrack}
          style={styles.visualizer}
        />
      </View>

      <View style={styles.transcript}>
        <TranscriptList lines={transcript} agentName="Assistant" />
      </View>

      {live ? (
        <View style={styles.chat}>
          <TextInput
            testID="chat-input"
            accessibilityLabel="Message to the assistant"
            style={styles.chatInput}
            value={draft}
            onChangeText={setDraft}
            placeholder="Type instead of speaking"
            placeholderTextColor={colors.muted}
            returnKeyType="send"
            onSubmitEditing={() => void sendDraft()}
            editable={state.phase === 'connected'}
            maxLength={500}
          />
          <PrimaryButton
            testID="chat-send-button"
            label="Send"
            accessibilityLabel="Send message"
            disabled={state.phase !== 'connected' || draft.trim().length === 0}
            onPress={() => void sendDraft()}
          />
        </View>
      ) : null}

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
            {signInRequired ? null : (
              <PrimaryButton
                testID="call-again-button"
                label="Call again"
                busy={callAgainBusy}
                onPress={() => void callAgain()}
                style={styles.controlButton}
              />
            )}
            <PrimaryButton
              testID="sign-out-button"
              label={signInRequired ? 'Sign in again' : 'Sign out'}
              variant={signInRequired ? 'primary' : 'secondary'}
              onPress={() =>
                onSignOut(signInRequired ? (state.error ?? SIGN_IN_AGAIN) : undefined)
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
  chat: { flexDirection: 'row', gap: spacing(2), alignItems: 'center' },
  chatInput: {
    flex: 1,
    minHeight: 48,
    borderWidth: 1,
    borderColor: colors.border,
    borderRadius: 12,
    paddingHorizontal: spacing(3),
    fontSize: 16,
    color: colors.text,
    backgroundColor: colors.surface,
  },
  controls: { flexDirection: 'row', gap: spacing(3) },
  controlButton: { flex: 1 },
});
