-- Cloned voices whose deletion at the speech provider failed during an account deletion: the
-- retention job retries them until the provider confirms. Holds only the provider's voice id.
CREATE TABLE pending_voice_deletions (
    voice_id   TEXT PRIMARY KEY,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
