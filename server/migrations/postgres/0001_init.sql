-- Coach schema, version 1: every entity of the product.
-- Conventions (see server/src/db.rs): TEXT ids, BIGINT epoch-millisecond timestamps (UTC),
-- BOOLEAN flags, JSON text for lists. The SQLite and PostgreSQL files are kept in step.

CREATE TABLE users (
    id                      TEXT PRIMARY KEY,
    email                   TEXT NOT NULL,
    name                    TEXT,
    is_premium              BOOLEAN NOT NULL DEFAULT FALSE,
    data_collection_consent BOOLEAN NOT NULL DEFAULT FALSE,
    consent_updated_at      BIGINT,
    voice_id                TEXT,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);

CREATE TABLE workout_entries (
    id                    TEXT PRIMARY KEY,
    user_id               TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    exercise_type         TEXT NOT NULL,
    set_number            INTEGER NOT NULL,
    weight                DOUBLE PRECISION NOT NULL,
    reps                  INTEGER NOT NULL,
    perceived_exertion    DOUBLE PRECISION NOT NULL,
    strain_percentage     DOUBLE PRECISION,
    sleep_hours           DOUBLE PRECISION,
    skip_reason           TEXT,
    exported_for_training BOOLEAN NOT NULL DEFAULT FALSE,
    created_at            BIGINT NOT NULL
);
CREATE INDEX workout_entries_user ON workout_entries (user_id, created_at);

-- Anonymized training rows. subject_key = HMAC(server secret, hashedUserId): the raw hash is never
-- stored, and nothing here points back at a user or a workout.
CREATE TABLE ai_training_data (
    id                TEXT PRIMARY KEY,
    subject_key       TEXT NOT NULL,
    exercise_type     TEXT NOT NULL,
    set_number        INTEGER NOT NULL,
    strain_percentage DOUBLE PRECISION NOT NULL,
    skip_reason       TEXT,
    sleep_hours       DOUBLE PRECISION,
    ai_response       TEXT NOT NULL,
    context_tags      TEXT NOT NULL,
    event_at          BIGINT NOT NULL,
    status            TEXT NOT NULL,
    batch_id          TEXT,
    source            TEXT NOT NULL,
    byte_size         BIGINT NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE INDEX ai_training_data_subject ON ai_training_data (subject_key);
CREATE INDEX ai_training_data_event ON ai_training_data (event_at);
CREATE INDEX ai_training_data_created ON ai_training_data (created_at);
CREATE INDEX ai_training_data_batch ON ai_training_data (batch_id);

CREATE TABLE voice_preferences (
    id                   TEXT PRIMARY KEY,
    user_id              TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    personality          TEXT NOT NULL,
    voice_enabled        BOOLEAN NOT NULL,
    tone_adaptation      BOOLEAN NOT NULL,
    accessibility_mode   BOOLEAN NOT NULL,
    eleven_labs_voice_id TEXT,
    voice_clone_status   TEXT NOT NULL,
    last_voice_setup     BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

-- The clip store's metadata: one row per distinct audio (content-addressed by the shared cache key).
CREATE TABLE voice_clips (
    cache_key     TEXT PRIMARY KEY,
    content_type  TEXT NOT NULL,
    byte_size     BIGINT NOT NULL,
    duration      DOUBLE PRECISION NOT NULL,
    provider      TEXT NOT NULL,
    voice         TEXT NOT NULL,
    -- made with a personal cloned voice: only its owner (or a signed URL) may fetch it
    owner_user_id TEXT,
    created_at    BIGINT NOT NULL
);

-- The per-user cache index (at most 10 rows per user; random rotation).
CREATE TABLE voice_cache_entries (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cache_key    TEXT NOT NULL REFERENCES voice_clips (cache_key),
    tone         TEXT NOT NULL,
    context      TEXT NOT NULL,
    generated_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    usage_count  INTEGER NOT NULL,
    duration     DOUBLE PRECISION NOT NULL,
    byte_size    BIGINT NOT NULL,
    expires_at   BIGINT,
    UNIQUE (user_id, cache_key)
);

CREATE TABLE voice_clone_jobs (
    id                      TEXT PRIMARY KEY,
    user_id                 TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    voice_name              TEXT NOT NULL,
    personality             TEXT,
    status                  TEXT NOT NULL,
    progress                INTEGER NOT NULL,
    provider_voice_id       TEXT,
    provider_job_id         TEXT,
    error_message           TEXT,
    sample_count            INTEGER NOT NULL,
    created_at              BIGINT NOT NULL,
    estimated_completion_at BIGINT NOT NULL,
    completed_at            BIGINT
);
CREATE INDEX voice_clone_jobs_user ON voice_clone_jobs (user_id, created_at);

CREATE TABLE voice_interactions (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workout_entry_id   TEXT NOT NULL REFERENCES workout_entries (id) ON DELETE CASCADE,
    ai_response_text   TEXT NOT NULL,
    voice_tone         TEXT NOT NULL,
    was_voice_played   BOOLEAN NOT NULL,
    was_cached         BOOLEAN NOT NULL,
    generation_latency DOUBLE PRECISION,
    playback_latency   DOUBLE PRECISION,
    created_at         BIGINT NOT NULL
);
CREATE INDEX voice_interactions_workout ON voice_interactions (workout_entry_id, created_at);

CREATE TABLE training_sessions (
    id                  TEXT PRIMARY KEY,
    batch_id            TEXT NOT NULL UNIQUE,
    force_retrain       BOOLEAN NOT NULL DEFAULT FALSE,
    status              TEXT NOT NULL,
    trigger_source      TEXT NOT NULL,
    scheduled_at        BIGINT NOT NULL,
    started_at          BIGINT,
    completed_at        BIGINT,
    data_size           BIGINT NOT NULL DEFAULT 0,
    record_count        BIGINT NOT NULL DEFAULT 0,
    retry_count         INTEGER NOT NULL DEFAULT 0,
    error_message       TEXT,
    hugging_face_job_id TEXT,
    model_output_path   TEXT,
    next_attempt_at     BIGINT,
    worker_id           TEXT,
    heartbeat_at        BIGINT,
    pipeline_kind       TEXT NOT NULL DEFAULT 'coach',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
-- At most one session in flight, enforced by the database.
CREATE UNIQUE INDEX training_sessions_one_active ON training_sessions (pipeline_kind)
    WHERE status NOT IN ('completed', 'failed');

CREATE TABLE ai_models (
    id                    TEXT PRIMARY KEY,
    version               TEXT NOT NULL UNIQUE,
    hugging_face_model_id TEXT NOT NULL,
    base_model            TEXT NOT NULL,
    training_data_batch   TEXT NOT NULL,
    session_id            TEXT REFERENCES training_sessions (id),
    status                TEXT NOT NULL,
    training_started_at   BIGINT NOT NULL,
    training_completed_at BIGINT,
    deployed_at           BIGINT,
    perplexity            DOUBLE PRECISION,
    bleu_score            DOUBLE PRECISION,
    validation_loss       DOUBLE PRECISION,
    training_loss         DOUBLE PRECISION,
    responsiveness        DOUBLE PRECISION,
    artifact_path         TEXT,
    gate_passed           BOOLEAN,
    gate_report           TEXT,
    previous_model_id     TEXT,
    previous_version      TEXT,
    rollback_reason       TEXT,
    created_at            BIGINT NOT NULL
);

CREATE TABLE model_deployments (
    id                TEXT PRIMARY KEY,
    model_id          TEXT NOT NULL REFERENCES ai_models (id),
    environment       TEXT NOT NULL,
    strategy          TEXT NOT NULL,
    action            TEXT NOT NULL,
    reason            TEXT,
    previous_model_id TEXT,
    deployed_at       BIGINT NOT NULL,
    retired_at        BIGINT
);
-- Exactly one live model per environment, enforced by the database.
CREATE UNIQUE INDEX model_deployments_one_live ON model_deployments (environment)
    WHERE retired_at IS NULL;

-- Idempotency-Key replay store for the POSTs that the browser's offline outbox retries.
CREATE TABLE idempotency_keys (
    user_id       TEXT NOT NULL,
    route         TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status_code   INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, route, idem_key)
);

-- Leases so that scheduled jobs run on one replica only.
CREATE TABLE job_leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    last_run_at BIGINT,
    last_result TEXT
);
