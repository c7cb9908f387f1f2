export const colors = {
  brand: '#0B3D91',
  brandDark: '#072B66',
  background: '#F4F6FA',
  surface: '#FFFFFF',
  text: '#14213D',
  muted: '#5C6B82',
  border: '#D7DDE8',
  danger: '#B3261E',
  dangerSurface: '#FDECEA',
  warning: '#8A5A00',
  warningSurface: '#FFF4D6',
  success: '#1E6B3A',
  successSurface: '#E3F4E8',
  agentBubble: '#E8EEF9',
  customerBubble: '#0B3D91',
} as const;

export const spacing = (n: number) => n * 4;
