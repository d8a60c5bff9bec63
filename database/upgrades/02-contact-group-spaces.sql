-- v1 -> v2: Contact groups as child spaces

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
