-- v0 -> v3: Latest schema

-- Last known contact list of each login, so the bridge can show contacts
-- and detect changes before the MSN session is up.
CREATE TABLE msn_contact (
    login_id      TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    friendly_name TEXT    NOT NULL DEFAULT '',
    lists         INTEGER NOT NULL DEFAULT 0,
    group_ids     TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL DEFAULT '',
    psm           TEXT    NOT NULL DEFAULT '',
    updated_at    BIGINT  NOT NULL DEFAULT 0,

    PRIMARY KEY (login_id, email)
);

-- Multi-party conversations: the set of participants (other than the user)
-- when the conversation became multi-party, mapped to its group portal.
CREATE TABLE msn_group_portal (
    login_id     TEXT   NOT NULL,
    participants TEXT   NOT NULL,
    portal_id    TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,

    PRIMARY KEY (login_id, participants)
);

CREATE UNIQUE INDEX msn_group_portal_portal_idx ON msn_group_portal (login_id, portal_id);

-- Display pictures (MSNObject) already uploaded to Matrix, by SHA1D.
CREATE TABLE msn_avatar (
    sha1d      TEXT   NOT NULL PRIMARY KEY,
    mxc        TEXT   NOT NULL,
    mime_type  TEXT   NOT NULL DEFAULT '',
    size       BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Offline messages (OIM) bridged to Matrix but maybe not yet deleted on the
-- MSN server: a message seen again after a crash is not bridged twice.
CREATE TABLE msn_offline_message (
    login_id   TEXT   NOT NULL,
    message_id TEXT   NOT NULL,
    sender     TEXT   NOT NULL DEFAULT '',
    bridged_at BIGINT NOT NULL,

    PRIMARY KEY (login_id, message_id)
);

-- The Matrix space of each MSN contact group of a login, with the contacts
-- (ghost members) and DM portal rooms (space children) last put in it, so
-- that removals can be undone on Matrix.
CREATE TABLE msn_group_space (
    login_id  TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    name      TEXT NOT NULL,
    room_id   TEXT NOT NULL,
    members   TEXT NOT NULL DEFAULT '',
    children  TEXT NOT NULL DEFAULT '',

    PRIMARY KEY (login_id, group_id)
);
