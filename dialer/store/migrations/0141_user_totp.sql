-- Two-factor login (dialer/domain/auth/totp.py, docs/web.md "Two-factor login").
--
-- One row per enrolled user: the TOTP secret (base32; as sensitive as a password, never logged or
-- shown again after enrolment) and the last time step a code was accepted for, so a code is used once.
CREATE TABLE user_totp (
    user_id      INTEGER PRIMARY KEY REFERENCES users (id),
    secret       TEXT    NOT NULL,
    enrolled_at  TEXT    NOT NULL,
    last_step    INTEGER
);
