import rules from '../../tests/data/credential_rules.json';
import {
  CUSTOMER_NUMBER_MAX_DIGITS,
  PIN_MAX_DIGITS,
  PIN_MIN_DIGITS,
  validateSignIn,
} from '../src/api/tokenClient';

interface RuleCase {
  customer_number: string;
  pin: string;
  valid: boolean;
  field?: 'customer_number' | 'pin';
}

// The same cases run against the token service in tests/test_credential_rules.py.
const cases = rules.cases as RuleCase[];

describe('sign-in validation shared with the token service', () => {
  it('states the server rules', () => {
    expect([CUSTOMER_NUMBER_MAX_DIGITS, PIN_MIN_DIGITS, PIN_MAX_DIGITS]).toEqual([20, 4, 8]);
  });

  it.each(cases.map((c) => [JSON.stringify([c.customer_number, c.pin]), c] as const))(
    '%s',
    (_name, c) => {
      const message = validateSignIn(c.customer_number, c.pin);
      if (c.valid) {
        expect(message).toBeNull();
      } else {
        expect(message).toMatch(c.field === 'pin' ? /PIN/ : /customer number/i);
      }
    },
  );
});
