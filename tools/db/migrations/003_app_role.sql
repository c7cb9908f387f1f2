-- The role the application runs as (Database switches to it with SET ROLE when it can).
-- It may read and write business tables but only append to audit tables.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bank_app') THEN
        CREATE ROLE bank_app NOLOGIN;
    END IF;
END;
$$;

GRANT USAGE ON SCHEMA public TO bank_app;
GRANT SELECT ON customers, accounts, transactions, cards, cases TO bank_app;
GRANT UPDATE (failed_pin_attempts, verification_locked_until) ON customers TO bank_app;
GRANT UPDATE (status, updated_at) ON cards TO bank_app;
GRANT INSERT ON cases TO bank_app;
GRANT SELECT, INSERT ON handoff_audit, card_events, security_events TO bank_app;
REVOKE UPDATE, DELETE, TRUNCATE ON handoff_audit, card_events, security_events FROM bank_app;
REVOKE UPDATE, DELETE, TRUNCATE ON handoff_audit, card_events, security_events FROM PUBLIC;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO bank_app;
