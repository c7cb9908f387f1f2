-- Verification lockout for customer numbers that do not exist, counted exactly like a real
-- customer's (customers.failed_pin_attempts / verification_locked_until): three wrong
-- attempts lock the number for 15 minutes. A locked number and an unknown one then answer
-- the same, by voice and at the token service, so customer numbers cannot be enumerated.
CREATE TABLE unknown_number_lockouts (
    customer_number           text PRIMARY KEY,
    failed_pin_attempts       integer NOT NULL DEFAULT 0,
    verification_locked_until timestamptz,
    updated_at                timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON unknown_number_lockouts TO bank_app;
