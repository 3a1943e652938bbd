-- PostgreSQL twin of migrations/0141_user_totp.sql (read it for the columns' meaning).
CREATE TABLE user_totp (
    user_id      BIGINT  PRIMARY KEY REFERENCES users (id),
    secret       TEXT    NOT NULL,
    enrolled_at  TEXT    NOT NULL,
    last_step    BIGINT
);
