-- Several dialer nodes on one database (issue #16, docs/store.md): each node drives its own PBX and
-- holds that PBX's lease here while it does. A second node for the same PBX is refused while the
-- lease runs; a node that dies stops renewing, its lease expires, and its successor takes it over.
-- pbx: the PBX's name ([pbx] name); node: "<host>/<pid>" of the holder; times are UTC text.
CREATE TABLE pbx_leases (
    pbx         TEXT PRIMARY KEY CHECK (length(pbx) BETWEEN 1 AND 40),
    node        TEXT NOT NULL CHECK (length(node) BETWEEN 1 AND 200),
    acquired_at TEXT NOT NULL,
    renewed_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL CHECK (expires_at > renewed_at)
);

-- Which PBX carries an attempt, and which PBX's node claimed a campaign lead: a node reconciles
-- only its own PBX's calls and claims at start-up, never another live node's. NULL: written
-- before this migration, by the one node a database had then (any node may settle it).
ALTER TABLE attempts ADD COLUMN pbx TEXT;
ALTER TABLE campaign_leads ADD COLUMN claimed_pbx TEXT;
