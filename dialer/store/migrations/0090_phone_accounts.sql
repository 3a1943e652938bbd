-- The phones' SIP accounts (dialer/phones/, dialer phones, asterisk/README.md): one row per phone
-- endpoint (an agent's desk phone or softphone, a supervisor's). `dialer pbx render` writes each as
-- a pjsip auth + AOR + endpoint. The user name the phone registers with is the endpoint's name.
--   ha1         MD5(endpoint:realm:password), the SIP digest secret Asterisk checks (md5_cred); the
--               password itself is shown once when generated and never stored.
--   changed_at  when the password was last generated (NULL: never since creation).
CREATE TABLE phone_accounts (
    endpoint    TEXT PRIMARY KEY,
    ha1         TEXT NOT NULL CHECK (length(ha1) = 32),
    created_at  TEXT NOT NULL,
    changed_at  TEXT
);
