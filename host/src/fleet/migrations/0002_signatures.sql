-- rulegate's shared store, schema version 2: signed modules.

-- The signatures of a module's version, one per key, each verified before it was
-- stored (the `.sig` file's entries).
CREATE TABLE rulegate_signatures (
    version    text NOT NULL REFERENCES rulegate_modules (version),
    key        text NOT NULL,
    signature  text NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (version, key)
);

-- The tenant's signers whose signatures admitted an activation.
ALTER TABLE rulegate_activations
    ADD COLUMN signed_by text[] NOT NULL DEFAULT '{}';
