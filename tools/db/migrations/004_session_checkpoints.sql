-- Crash-safe resume: the serialised SessionState (never the DB handle, never a PIN),
-- written after each handoff and verification, keyed by the LiveKit room.
CREATE TABLE session_checkpoints (
    room_name   text PRIMARY KEY,
    session_id  text NOT NULL,
    state       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON session_checkpoints TO bank_app;
