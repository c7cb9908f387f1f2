/** Topic and attributes used by LiveKit Agents for transcription text streams. */
export const TRANSCRIPTION_TOPIC = 'lk.transcription';
export const SEGMENT_ID_ATTRIBUTE = 'lk.segment_id';
export const FINAL_ATTRIBUTE = 'lk.transcription_final';
export const TRANSCRIBED_TRACK_ATTRIBUTE = 'lk.transcribed_track_id';

/** Structural subset of components-core's TextStreamData that we rely on. */
export interface TranscriptStream {
  text: string;
  participantInfo: { identity: string };
  streamInfo: {
    id: string;
    timestamp: number;
    attributes?: Record<string, string>;
  };
  /** The agent's `bank.specialist` when the line started: which desk said it. */
  desk?: string;
}

export type Speaker = 'customer' | 'agent';

export interface TranscriptLine {
  id: string;
  speaker: Speaker;
  text: string;
  final: boolean;
  timestamp: number;
  /** Agent lines: the desk (`bank.specialist`) that said it, if known. */
  desk?: string;
}

export interface MergeOptions {
  /** Identity of the signed-in customer (the local participant). */
  localIdentity?: string;
  /** SIDs of the customer's own tracks; agents tag user STT with lk.transcribed_track_id. */
  localTrackSids?: readonly string[];
  /** Keep only the newest N lines. */
  limit?: number;
}

function speakerOf(stream: TranscriptStream, options: MergeOptions): Speaker {
  const identity = stream.participantInfo?.identity;
  if (options.localIdentity && identity === options.localIdentity) return 'customer';
  const trackSid = stream.streamInfo.attributes?.[TRANSCRIBED_TRACK_ATTRIBUTE];
  if (trackSid && options.localTrackSids?.includes(trackSid)) return 'customer';
  return 'agent';
}

/**
 * Turn the text streams received on `lk.transcription` into transcript lines.
 *
 * Interim and final updates of the same utterance share `lk.segment_id`; the newest
 * text wins but the line keeps the position of its first appearance. Lines are ordered
 * by start time, ties broken by arrival order. Empty segments are dropped.
 */
export function mergeTranscript(
  streams: readonly TranscriptStream[],
  options: MergeOptions = {},
): TranscriptLine[] {
  const byId = new Map<string, TranscriptLine & { order: number }>();
  streams.forEach((stream, order) => {
    const attributes = stream.streamInfo.attributes ?? {};
    const id = attributes[SEGMENT_ID_ATTRIBUTE] || stream.streamInfo.id;
    const existing = byId.get(id);
    const line = {
      id,
      speaker: speakerOf(stream, options),
      text: stream.text.trim(),
      final: attributes[FINAL_ATTRIBUTE] === 'true',
      timestamp: existing?.timestamp ?? stream.streamInfo.timestamp,
      desk: existing?.desk ?? stream.desk,
      order: existing?.order ?? order,
    };
    byId.set(id, line);
  });

  const lines = [...byId.values()]
    .filter((line) => line.text.length > 0)
    .sort((a, b) => a.timestamp - b.timestamp || a.order - b.order)
    .map(({ order: _order, ...line }) => line);

  return options.limit && lines.length > options.limit ? lines.slice(-options.limit) : lines;
}
