import {
  SPECIALIST_ATTRIBUTE,
  specialistDescription,
  specialistFromAttributes,
  specialistLabel,
} from '../src/call/specialist';

describe('specialist labels', () => {
  it.each([
    ['greeter', 'Greeter'],
    ['balance', 'Balance'],
    ['transactions', 'Transactions'],
    ['card_security', 'Card security'],
    ['human', 'Human agent'],
    ['CARD_SECURITY', 'Card security'],
  ])('%s -> %s', (id, label) => {
    expect(specialistLabel(id)).toBe(label);
  });

  it('humanises specialists the app does not know yet', () => {
    expect(specialistLabel('mortgage_advice')).toBe('Mortgage advice');
    expect(specialistDescription('mortgage_advice')).toBeUndefined();
  });

  it('has no label when the attribute is missing or blank', () => {
    expect(specialistLabel(undefined)).toBeUndefined();
    expect(specialistLabel('')).toBeUndefined();
    expect(specialistFromAttributes(undefined)).toBeUndefined();
    expect(specialistFromAttributes({ [SPECIALIST_ATTRIBUTE]: '  ' })).toBeUndefined();
  });

  it('reads bank.specialist from participant attributes', () => {
    expect(SPECIALIST_ATTRIBUTE).toBe('bank.specialist');
    expect(
      specialistFromAttributes({ 'lk.agent.state': 'listening', 'bank.specialist': 'balance' }),
    ).toBe('balance');
  });
});
