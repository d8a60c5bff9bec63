-- v2 -> v3: Offline messages already bridged to Matrix

-- Offline messages (OIM) bridged to Matrix but maybe not yet deleted on the
-- MSN server: a message seen again after a crash is not bridged twice.
CREATE TABLE msn_offline_message (
    login_id   TEXT   NOT NULL,
    message_id TEXT   NOT NULL,
    sender     TEXT   NOT NULL DEFAULT '',
    bridged_at BIGINT NOT NULL,

    PRIMARY KEY (login_id, message_id)
);
