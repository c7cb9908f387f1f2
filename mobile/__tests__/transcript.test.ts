import { mergeTranscript, type TranscriptStream } from '../src/call/transcript';

function stream(
  identity: string,
  text: string,
  segmentId: string | undefined,
  timestamp: number,
  extra: Record<string, string> = {},
): TranscriptStream {
  return {
    text,
    participantInfo: { identity },
    streamInfo: {
      id: `s-${Math.random()}`,
      timestamp,
      attributes: {
        ...(segmentId ? { 'lk.segment_id': segmentId } : {}),
        'lk.transcription_final': 'true',
        ...extra,
      },
    },
  };
}

describe('mergeTranscript', () => {
  it('attributes lines to the customer or the agent and orders them by time', () => {
    const lines = mergeTranscript(
      [
        stream('agent-1', 'Hello, how can I help?', 'A1', 100),
        stream('customer-1001', "What's my balance?", 'U1', 200),
        stream('agent-1', 'Your balance is £1,250.', 'A2', 300),
      ],
      { localIdentity: 'customer-1001' },
    );
    expect(lines.map((l) => [l.speaker, l.text])).toEqual([
      ['agent', 'Hello, how can I help?'],
      ['customer', "What's my balance?"],
      ['agent', 'Your balance is £1,250.'],
    ]);
  });

  it('replaces interim text of a segment with its newer update, keeping its place', () => {
    const lines = mergeTranscript(
      [
        stream('customer-1001', 'I lost', 'U1', 100, { 'lk.transcription_final': 'false' }),
        stream('agent-1', 'One moment', 'A1', 150),
        stream('customer-1001', 'I lost my card', 'U1', 180),
      ],
      { localIdentity: 'customer-1001' },
    );
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ id: 'U1', text: 'I lost my card', final: true });
    expect(lines[1]).toMatchObject({ id: 'A1', text: 'One moment' });
  });

  it('marks interim segments as not final', () => {
    const [line] = mergeTranscript([
      stream('agent-1', 'Let me', 'A1', 1, { 'lk.transcription_final': 'false' }),
    ]);
    expect(line?.final).toBe(false);
  });

  it('recognises user speech transcribed from the local microphone track', () => {
    const [line] = mergeTranscript(
      [stream('agent-1', 'Block my card', 'U9', 1, { 'lk.transcribed_track_id': 'TR_mic' })],
      { localIdentity: 'customer-1001', localTrackSids: ['TR_mic'] },
    );
    expect(line?.speaker).toBe('customer');
  });

  it('drops empty segments, falls back to the stream id and honours the limit', () => {
    const lines = mergeTranscript(
      [
        stream('agent-1', '   ', 'A0', 1),
        stream('agent-1', 'one', undefined, 2),
        stream('agent-1', 'two', undefined, 3),
        stream('agent-1', 'three', undefined, 4),
      ],
      { limit: 2 },
    );
    expect(lines.map((l) => l.text)).toEqual(['two', 'three']);
  });
});
