import { RoomEvent, type Participant, type Room, type TextStreamReader } from 'livekit-client';
import { useCallback, useEffect, useRef, useState } from 'react';

import { specialistFromAttributes } from './specialist';
import {
  FINAL_ATTRIBUTE,
  TRANSCRIBED_TRACK_ATTRIBUTE,
  TRANSCRIPTION_TOPIC,
  type TranscriptStream,
} from './transcript';

/**
 * A desk change this soon after an agent line started names that line's desk: the new desk's
 * first words (data channel) can arrive before its `bank.specialist` update (signalling).
 */
export const LATE_DESK_MS = 500;

export interface TranscriptStreams {
  streams: readonly TranscriptStream[];
  /** A line the customer typed (sent on `lk.chat`; the agent does not echo typed input). */
  addTypedLine: (identity: string, text: string) => void;
}

/**
 * Collects the `lk.transcription` text streams of one call and keeps them after the call
 * ends (components-core's useTranscriptions clears them on disconnect). Each stream is
 * re-rendered as chunks arrive and once more when it closes, because
 * `lk.transcription_final` only turns "true" in the stream trailer, which livekit-client
 * merges into `reader.info.attributes`. Agent lines remember the desk that said them.
 */
export function useTranscriptStreams(room: Room): TranscriptStreams {
  const [streams, setStreams] = useState<TranscriptStream[]>([]);
  const typedCount = useRef(0);
  // The newest agent line per agent identity, relabelled on a late desk change; forgotten
  // once the customer speaks or types (a desk change after that answers the customer).
  const latest = useRef(new Map<string, { id: string; openedAt: number }>());

  const upsert = useCallback((entry: TranscriptStream) => {
    setStreams((previous) => {
      const index = previous.findIndex((s) => s.streamInfo.id === entry.streamInfo.id);
      if (index < 0) return [...previous, entry];
      const next = previous.slice();
      next[index] = entry;
      return next;
    });
  }, []);

  useEffect(() => {
    let active = true;
    const relabelled = new Map<string, string>();
    const onAttributes = (changed: Record<string, string>, participant: Participant) => {
      const desk = specialistFromAttributes(changed);
      const line = latest.current.get(participant.identity);
      if (!desk || !line || Date.now() - line.openedAt > LATE_DESK_MS || !active) return;
      relabelled.set(line.id, desk);
      setStreams((previous) =>
        previous.map((s) => (s.streamInfo.id === line.id ? { ...s, desk } : s)),
      );
    };
    room.on(RoomEvent.ParticipantAttributesChanged, onAttributes);
    const handler = async (reader: TextStreamReader, participant: { identity: string }) => {
      const { id, timestamp } = reader.info;
      let desk = specialistFromAttributes(
        room.remoteParticipants.get(participant.identity)?.attributes,
      );
      const fromCustomer =
        participant.identity === room.localParticipant.identity ||
        Boolean(reader.info.attributes?.[TRANSCRIBED_TRACK_ATTRIBUTE]);
      if (fromCustomer) latest.current.clear();
      else if (desk) latest.current.set(participant.identity, { id, openedAt: Date.now() });
      let text = '';
      const publish = () => {
        if (!active) return;
        // A late desk change may have relabelled this line meanwhile: keep that label.
        desk = relabelled.get(id) ?? desk;
        upsert({
          text,
          participantInfo: { identity: participant.identity },
          streamInfo: { id, timestamp, attributes: { ...reader.info.attributes } },
          desk,
        });
      };
      try {
        for await (const chunk of reader) {
          text += chunk;
          publish();
        }
      } catch {
        // An aborted stream keeps the text that arrived; it stays marked unfinished.
      }
      publish();
    };
    room.registerTextStreamHandler(TRANSCRIPTION_TOPIC, handler);
    return () => {
      active = false;
      room.off(RoomEvent.ParticipantAttributesChanged, onAttributes);
      room.unregisterTextStreamHandler(TRANSCRIPTION_TOPIC);
    };
  }, [room, upsert]);

  const addTypedLine = useCallback(
    (identity: string, text: string) => {
      typedCount.current += 1;
      latest.current.clear();
      upsert({
        text,
        participantInfo: { identity },
        streamInfo: {
          id: `typed-${typedCount.current}`,
          timestamp: Date.now(),
          attributes: { [FINAL_ATTRIBUTE]: 'true' },
        },
      });
    },
    [upsert],
  );

  return { streams, addTypedLine };
}
