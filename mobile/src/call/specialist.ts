/** Participant attribute the agent worker sets to the specialist currently on the line. */
export const SPECIALIST_ATTRIBUTE = 'bank.specialist';

export const SPECIALIST_IDS = ['greeter', 'balance', 'transactions', 'card_security', 'human'] as const;
export type SpecialistId = (typeof SPECIALIST_IDS)[number];

const LABELS: Record<SpecialistId, string> = {
  greeter: 'Greeter',
  balance: 'Balance',
  transactions: 'Transactions',
  card_security: 'Card security',
  human: 'Human agent',
};

const DESCRIPTIONS: Record<SpecialistId, string> = {
  greeter: 'Finding the right specialist for you',
  balance: 'Account balances',
  transactions: 'Recent transactions and payments',
  card_security: 'Lost, stolen or blocked cards',
  human: 'Transferring you to a member of staff',
};

export function isSpecialistId(value: unknown): value is SpecialistId {
  return typeof value === 'string' && (SPECIALIST_IDS as readonly string[]).includes(value);
}

/** The raw `bank.specialist` value from a participant's attributes, if present. */
export function specialistFromAttributes(
  attributes: Readonly<Record<string, string>> | undefined | null,
): string | undefined {
  const raw = attributes?.[SPECIALIST_ATTRIBUTE];
  const value = typeof raw === 'string' ? raw.trim() : '';
  return value.length > 0 ? value : undefined;
}

/**
 * Friendly label for a specialist id. Unknown ids (a specialist added on the Python
 * side before the app learns about it) are humanised rather than hidden.
 */
export function specialistLabel(value: string | undefined | null): string | undefined {
  if (!value) return undefined;
  const key = value.trim().toLowerCase();
  if (isSpecialistId(key)) return LABELS[key];
  const words = key.split(/[_\-\s]+/).filter(Boolean);
  if (words.length === 0) return undefined;
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function specialistDescription(value: string | undefined | null): string | undefined {
  if (!value) return undefined;
  const key = value.trim().toLowerCase();
  return isSpecialistId(key) ? DESCRIPTIONS[key] : undefined;
}
