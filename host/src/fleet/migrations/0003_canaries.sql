-- rulegate's shared store, schema version 3: canary releases.

-- The canary answering a share of the tenant's checkouts (settings, version, start),
-- and the ended ones with how and why they ended, newest last.
ALTER TABLE rulegate_tenants
    ADD COLUMN canary jsonb,
    ADD COLUMN canaries jsonb NOT NULL DEFAULT '[]';

-- Each host's counts of a running canary's two sides, so promotion and the guardrails
-- judge the fleet's callbacks together. A canary is named by its start.
CREATE TABLE rulegate_canary_figures (
    tenant      text NOT NULL,
    started_ms  bigint NOT NULL,
    host        text NOT NULL,
    active      jsonb NOT NULL,
    canary      jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, started_ms, host)
);
