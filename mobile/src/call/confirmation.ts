/**
 * The agent's confirmation requests (LiveKit RPC `bank.confirm`): when a card write awaits
 * the caller's yes, the agent asks this app, which shows a Confirm / Cancel sheet. The
 * request carries what the agent's read-back says and no more: the action and the card's
 * last four digits. The answer names the request it answers.
 */

export const CONFIRM_METHOD = 'bank.confirm';
/** The agent withdraws a request (the caller answered by voice first). */
export const CLOSE_METHOD = 'bank.confirm.close';

export type ConfirmAction = 'lock' | 'unlock' | 'lost' | 'stolen';
export type ConfirmAnswer = 'confirm' | 'cancel' | 'timeout';

export interface ConfirmRequest {
  id: string;
  action: ConfirmAction;
  cardLastFour: string;
  /** How long the sheet stays up before it answers "timeout" by itself. */
  timeoutMs: number;
}

const ACTIONS: readonly ConfirmAction[] = ['lock', 'unlock', 'lost', 'stolen'];
const MAX_TIMEOUT_S = 120;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A well-formed version-1 request, or null (the app then refuses it). */
export function parseConfirmRequest(payload: string): ConfirmRequest | null {
  let data: unknown;
  try {
    data = JSON.parse(payload);
  } catch {
    return null;
  }
  if (!isRecord(data) || data.version !== 1) return null;
  const { id, action, card_last_four: lastFour, timeout_s: timeoutS } = data;
  if (typeof id !== 'string' || id.length === 0 || id.length > 100) return null;
  if (typeof action !== 'string' || !ACTIONS.includes(action as ConfirmAction)) return null;
  if (typeof lastFour !== 'string' || !/^\d{4}$/.test(lastFour)) return null;
  if (typeof timeoutS !== 'number' || !(timeoutS > 0) || timeoutS > MAX_TIMEOUT_S) return null;
  return { id, action: action as ConfirmAction, cardLastFour: lastFour, timeoutMs: timeoutS * 1000 };
}

/** The id of the request a `bank.confirm.close` names, or null. */
export function parseCloseRequest(payload: string): string | null {
  try {
    const data: unknown = JSON.parse(payload);
    return isRecord(data) && typeof data.id === 'string' ? data.id : null;
  } catch {
    return null;
  }
}

export function answerPayload(id: string, answer: ConfirmAnswer): string {
  return JSON.stringify({ id, answer });
}

export interface ConfirmCopy {
  title: string;
  detail: string;
  /** The Confirm button's label (its accessible name says the action in full). */
  confirmLabel: string;
}

/** What the sheet says for a request: the same action and card the agent read back. */
export function describeRequest({ action, cardLastFour }: ConfirmRequest): ConfirmCopy {
  const card = `the card ending ${cardLastFour}`;
  switch (action) {
    case 'lock':
      return {
        title: `Lock ${card}?`,
        detail: 'Payments with it are declined while it is locked.',
        confirmLabel: 'Lock card',
      };
    case 'unlock':
      return {
        title: `Unlock ${card}?`,
        detail: 'It can be used for payments again.',
        confirmLabel: 'Unlock card',
      };
    case 'lost':
    case 'stolen':
      return {
        title: `Report ${card} ${action}?`,
        detail: 'It is blocked for good and a replacement card is ordered.',
        confirmLabel: `Report ${action}`,
      };
  }
}
