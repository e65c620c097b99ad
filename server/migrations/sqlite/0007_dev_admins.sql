-- Users that the dev-mode sign-in (POST /v1/dev/session, COACH_DEV_MODE=1 only) created as
-- administrators. Dev sign-in mints an admin token only for these: a brand-new user id asked for
-- as admin is recorded here, and an existing user who is not here (a user made by the admin API
-- or signed in as a plain user) is never raised to admin. Deleted with the user.
CREATE TABLE dev_admins (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
