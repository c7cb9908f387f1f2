/** The browser routes call audio itself; there is no audio session to start or stop. */
export const defaultAudioSession = {
  startAudioSession: async (): Promise<void> => undefined,
  stopAudioSession: async (): Promise<void> => undefined,
};
