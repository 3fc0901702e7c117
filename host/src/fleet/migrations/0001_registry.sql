-- rulegate's shared store, schema version 1.

-- Immutable modules, by content hash (`sha256:<hex>`), stored once.
CREATE TABLE rulegate_modules (
    version    text PRIMARY KEY,
    bytes      bytea NOT NULL,
    size       integer NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now()
);

-- The small per-tenant pointer: what the fleet serves. `generation` grows by one with
-- every change, in one transaction with the change.
CREATE TABLE rulegate_tenants (
    tenant      text PRIMARY KEY,
    active      text,
    shadow      text,
    configured  text,
    generation  bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every activation, in the order the store gave them.
CREATE TABLE rulegate_activations (
    tenant      text NOT NULL,
    generation  bigint NOT NULL,
    version     text NOT NULL,
    via         text NOT NULL,
    host        text,
    at_ms       bigint NOT NULL,
    PRIMARY KEY (tenant, generation)
);

-- Each host's heartbeat: what it serves, per tenant, and since when.
CREATE TABLE rulegate_hosts (
    host          text PRIMARY KEY,
    started_ms    bigint NOT NULL,
    seen_at       timestamptz NOT NULL DEFAULT now(),
    tenants       jsonb NOT NULL
);

-- The events merchants receive, with their delivery state. A host delivering an event
-- holds its lease (`lease_until_ms`), taken with FOR UPDATE SKIP LOCKED.
CREATE TABLE rulegate_events (
    tenant           text NOT NULL,
    id               text NOT NULL,
    kind             text NOT NULL,
    created_ms       bigint NOT NULL,
    data             jsonb NOT NULL,
    received_by      text NOT NULL,
    state            text NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_ms  bigint NOT NULL,
    last_error       text,
    delivered_ms     bigint,
    lease_until_ms   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX rulegate_events_due ON rulegate_events (tenant, next_attempt_ms)
    WHERE state = 'pending';

-- Every recorded platform event (KCO pushes, Klix notifications, Messenger payments),
-- whichever host received it.
CREATE TABLE rulegate_journal (
    id              bigserial PRIMARY KEY,
    tenant          text,
    host            text NOT NULL,
    received_at_ms  bigint,
    record          jsonb NOT NULL
);
