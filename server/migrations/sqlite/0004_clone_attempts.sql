-- Every POST /v1/voice/clone that passed the premium check, accepted or refused: the per-user
-- hourly clone limit counts these rows. A row is written (in a transaction that serializes the
-- user's attempts) before the upload's body is read, so concurrent uploads cannot all pass the
-- count, and bad or oversized uploads use up their slot too. Rows older than an hour are removed
-- when the user next tries; the user's deletion removes the rest (foreign key).
CREATE TABLE voice_clone_attempts (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX voice_clone_attempts_user ON voice_clone_attempts (user_id, created_at);

-- The jobs started before this table existed keep counting within their hour.
INSERT INTO voice_clone_attempts (id, user_id, created_at) SELECT id, user_id, created_at FROM voice_clone_jobs;
