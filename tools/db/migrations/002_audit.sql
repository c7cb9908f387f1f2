-- Append-only audit trails. The database itself refuses UPDATE, DELETE and TRUNCATE,
-- whoever asks; the application role is additionally never granted those privileges.

CREATE TABLE handoff_audit (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id       text NOT NULL,
    seq              integer NOT NULL,
    from_agent       text,
    to_agent         text NOT NULL,
    reason           text NOT NULL,
    intent           text,
    assurance        text NOT NULL,
    context_policy   text NOT NULL,
    outcome          text NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
    rejection_reason text,
    duration_ms      double precision NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, seq)
);

-- Security-relevant events that are not handoffs: verification attempts, refusals.
CREATE TABLE security_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id   text NOT NULL,
    customer_id  bigint REFERENCES customers (id),
    kind         text NOT NULL,
    detail       text NOT NULL,
    channel      text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_events_session_idx ON security_events (session_id, id);

CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER handoff_audit_append_only BEFORE UPDATE OR DELETE ON handoff_audit
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER handoff_audit_no_truncate BEFORE TRUNCATE ON handoff_audit
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER card_events_append_only BEFORE UPDATE OR DELETE ON card_events
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER card_events_no_truncate BEFORE TRUNCATE ON card_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER security_events_append_only BEFORE UPDATE OR DELETE ON security_events
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER security_events_no_truncate BEFORE TRUNCATE ON security_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
