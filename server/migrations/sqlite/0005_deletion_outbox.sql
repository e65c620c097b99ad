-- The provider-voice deletion outbox (issue 10). pending_voice_deletions becomes an outbox: a row is
-- written in the same transaction that deletes the user (or that finds a clone job's user gone, or
-- that replaces a voice), and delivered after the commit by a background task and the periodic
-- outbox job. next_attempt_at spaces the attempts (exponential backoff) and doubles as a claim: a
-- worker that takes a row moves it into the future first, so two replicas never race on one voice.
ALTER TABLE pending_voice_deletions ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX pending_voice_deletions_due ON pending_voice_deletions (next_attempt_at);
