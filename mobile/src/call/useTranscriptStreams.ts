import type { Room, TextStreamReader } from 'livekit-client';
import { useCallback, useEffect, useRef, useState } from 'react';

import { specialistFromAttributes } from './specialist';
import { FINAL_ATTRIBUTE, TRANSCRIPTION_TOPIC, type TranscriptStream } from './transcript';

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
    const handler = async (reader: TextStreamReader, participant: { identity: string }) => {
      const { id, timestamp } = reader.info;
      const desk = specialistFromAttributes(
        room.remoteParticipants.get(participant.identity)?.attributes,
      );
      let text = '';
      const publish = () => {
        if (!active) return;
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
      room.unregisterTextStreamHandler(TRANSCRIPTION_TOPIC);
    };
  }, [room, upsert]);

  const addTypedLine = useCallback(
    (identity: string, text: string) => {
      typedCount.current += 1;
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
