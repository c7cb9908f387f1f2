-- Core banking schema. Money is always integer cents (bigint); never floats.

CREATE TABLE customers (
    id                          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_number             text NOT NULL UNIQUE CHECK (customer_number ~ '^[0-9]{4,12}$'),
    full_name                   text NOT NULL,
    phone_e164                  text CHECK (phone_e164 ~ '^\+[1-9][0-9]{6,14}$'),
    pin_hash                    text NOT NULL,
    failed_pin_attempts         integer NOT NULL DEFAULT 0 CHECK (failed_pin_attempts >= 0),
    verification_locked_until   timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_phone_idx ON customers (phone_e164);

CREATE TABLE accounts (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id              bigint NOT NULL REFERENCES customers (id),
    kind                     text NOT NULL CHECK (kind IN ('checking', 'savings', 'credit_card')),
    nickname                 text NOT NULL,
    number_last_four         text NOT NULL CHECK (number_last_four ~ '^[0-9]{4}$'),
    ledger_balance_cents     bigint NOT NULL,
    available_balance_cents  bigint NOT NULL,
    credit_limit_cents       bigint CHECK (credit_limit_cents IS NULL OR credit_limit_cents >= 0),
    currency                 text NOT NULL DEFAULT 'USD',
    opened_at                timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'credit_card') = (credit_limit_cents IS NOT NULL))
);
CREATE INDEX accounts_customer_idx ON accounts (customer_id);

CREATE TABLE transactions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts (id),
    amount_cents  bigint NOT NULL,             -- signed: negative = money out
    merchant      text NOT NULL,
    category      text NOT NULL,
    status        text NOT NULL CHECK (status IN ('pending', 'posted')),
    occurred_at   timestamptz NOT NULL,
    posted_at     timestamptz
);
-- "latest N for an account" and time-window filters walk this index backwards.
CREATE INDEX transactions_account_time_idx ON transactions (account_id, occurred_at DESC, id DESC);
-- merchant filters within an account: prefix/equality on the lower-cased name.
CREATE INDEX transactions_account_merchant_idx ON transactions (account_id, lower(merchant) text_pattern_ops);

CREATE TABLE cards (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES customers (id),
    account_id   bigint NOT NULL REFERENCES accounts (id),
    last_four    text NOT NULL CHECK (last_four ~ '^[0-9]{4}$'),
    network      text NOT NULL CHECK (network IN ('visa', 'mastercard', 'amex', 'discover')),
    kind         text NOT NULL CHECK (kind IN ('debit', 'credit')),
    status       text NOT NULL CHECK (status IN ('active', 'locked', 'lost', 'stolen')),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cards_customer_idx ON cards (customer_id);

CREATE TABLE card_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    card_id          bigint NOT NULL REFERENCES cards (id),
    customer_id      bigint NOT NULL REFERENCES customers (id),
    from_status      text NOT NULL,
    to_status        text NOT NULL,
    reason           text NOT NULL,
    actor            text NOT NULL,
    idempotency_key  text NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX card_events_card_idx ON card_events (card_id, created_at);

CREATE TABLE cases (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id      bigint NOT NULL REFERENCES customers (id),
    kind             text NOT NULL CHECK (kind IN ('dispute', 'replacement', 'callback')),
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    card_id          bigint REFERENCES cards (id),
    transaction_id   bigint REFERENCES transactions (id),
    summary          text NOT NULL,
    idempotency_key  text NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_customer_idx ON cases (customer_id, created_at);
-- At most one open dispute per transaction: a repeated request returns the existing case.
CREATE UNIQUE INDEX cases_open_dispute_per_txn ON cases (transaction_id)
    WHERE kind = 'dispute' AND status = 'open';
