"""The workspace database's schema: ordered migrations and the version kept in table ``meta``.

:func:`migrate` runs when a workspace is opened (:class:`pipeline.store.workspace.Workspace`), never when a
module is imported. Each migration is applied once, in order, inside one ``BEGIN IMMEDIATE`` transaction
that also records the new version, so two processes opening the same workspace at once apply it once, and a
workspace written by an older cleanup-verify is upgraded in place. A workspace with a newer version than
:data:`SCHEMA_VERSION` is refused (this program does not know its tables).

History:

1. the core tables (runs, entries, photos, entry photos, arrivals, stage and entry results); the dedup and
   review tables of that version were created by their modules on import, so a version-1 workspace may or
   may not have them (tests/fixtures/schema_v1.sql holds that version's statements verbatim);
2. the dedup tables (hash index, reuse hashes, stored matches, queried photos) and the review tables
   (decisions, accounts, corrections and their log) created here: ``IF NOT EXISTS``, since a version-1
   workspace may hold them already;
3. the intake API (pipeline/api): its bearer tokens (stored hashed) and its queue of entries with their
   photos (tables ``api_tokens``, ``intake_entries``, ``intake_photos``).

To change the schema, append a migration (never edit one that shipped) and the version follows.
"""
from __future__ import annotations

import sqlite3

#: the core tables (version 1)
CORE = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    batch TEXT NOT NULL,
    config_json TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',   -- running | finished | failed
    summary_json TEXT
);
CREATE TABLE IF NOT EXISTS entries (
    entry_id TEXT PRIMARY KEY,
    batch TEXT NOT NULL,
    seq INTEGER NOT NULL,                      -- order of first arrival in the workspace
    submission_json TEXT NOT NULL,
    problems_json TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS photos (
    sha256 TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,                      -- order of first arrival in the workspace
    size_bytes INTEGER NOT NULL,
    meta_json TEXT NOT NULL,
    first_entry_id TEXT,
    first_rel_path TEXT
);
CREATE TABLE IF NOT EXISTS entry_photos (
    entry_id TEXT NOT NULL,
    rel_path TEXT NOT NULL,
    role TEXT NOT NULL,
    ord INTEGER NOT NULL,
    sha256 TEXT,                               -- NULL when the file could not be read at all
    error_json TEXT,                           -- a Problem when the photo could not be used
    PRIMARY KEY (entry_id, rel_path)
);
CREATE INDEX IF NOT EXISTS entry_photos_sha ON entry_photos(sha256);
CREATE TABLE IF NOT EXISTS photo_arrivals (
    entry_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    run_id INTEGER NOT NULL,                   -- the run in which the entry first had this photo
    PRIMARY KEY (entry_id, sha256)
);
CREATE TABLE IF NOT EXISTS stage_results (
    sha256 TEXT NOT NULL,
    stage TEXT NOT NULL,
    stage_version TEXT NOT NULL,
    model_id TEXT NOT NULL DEFAULT '',
    config_hash TEXT NOT NULL,
    result_json TEXT NOT NULL,
    PRIMARY KEY (sha256, stage, stage_version, model_id, config_hash)
);
CREATE TABLE IF NOT EXISTS entry_results (
    entry_id TEXT NOT NULL,
    stage TEXT NOT NULL,                       -- verify | dedup | score
    input_key TEXT NOT NULL,                   -- hash of everything the result depends on
    result_json TEXT NOT NULL,
    PRIMARY KEY (entry_id, stage)
);
"""

#: the hash index of every photo ever hashed (pipeline.dedup.index)
DEDUP_HASHES = """
CREATE TABLE IF NOT EXISTS dedup_hashes (
    sha256 TEXT PRIMARY KEY,
    stage_version TEXT NOT NULL,
    phash BLOB NOT NULL,          -- 8 bytes, big-endian
    dhash BLOB NOT NULL,          -- 8 bytes
    pdq BLOB,                     -- 32 bytes, NULL when not computed
    pdq_quality INTEGER,          -- 0-100
    phash_variants BLOB,          -- 8 x 8 bytes, hashing.VARIANT_NAMES order
    pdq_variants BLOB,            -- 8 x 32 bytes
    crop_phashes BLOB,            -- len(CROP_WINDOWS) x 8 bytes
    thumb BLOB                    -- THUMB_SIDE^2 bytes of grey signature
);
"""

#: the hashes and views for reused photos (issue 13), one row per photo hashed with them; a separate table so
#: that workspaces made before them need no migration of their rows (their photos simply have no row)
DEDUP_REUSE = """
CREATE TABLE IF NOT EXISTS dedup_reuse (
    sha256 TEXT PRIMARY KEY,
    inner_box TEXT,               -- "x0 y0 x1 y1" fractions, NULL when the whole image is the photo
    inner_phashes BLOB,           -- 0 or 1 x 8 bytes
    rot_phashes BLOB,             -- len(ROT_ANGLES) x 8 bytes
    part_phashes BLOB,            -- len(PART_BOXES) x 8 bytes
    view BLOB,                    -- grey JPEG, VIEW_SIDE px
    inner_view BLOB               -- grey JPEG of the inner photo
);
"""

#: each photo's verified matches against the index, per matching key (pipeline.dedup.query)
DEDUP_MATCHES = """
CREATE TABLE IF NOT EXISTS dedup_matches (
    key TEXT NOT NULL,            -- match_key(cfg): hash version + [dedup] settings
    photo TEXT NOT NULL,          -- sha256 of the queried photo
    other TEXT NOT NULL,          -- sha256 of the matched photo
    kind TEXT NOT NULL,           -- match.KIND_RANK: a copy kind, or same_spot (not a copy)
    distance INTEGER NOT NULL,
    hash_name TEXT NOT NULL,
    difference REAL NOT NULL,     -- signature difference (pipeline.dedup.pixel_check)
    PRIMARY KEY (key, photo, other)
);
CREATE INDEX IF NOT EXISTS dedup_matches_other ON dedup_matches(key, other);
CREATE TABLE IF NOT EXISTS dedup_queried (
    key TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (key, sha256)
);
"""

#: the review app's decisions, accounts and corrections (pipeline.review)
REVIEW = """
CREATE TABLE IF NOT EXISTS reviews (
    review_id INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    judge TEXT NOT NULL,
    decision TEXT NOT NULL,                 -- accept | override | disqualify
    score_override REAL,                    -- 0-100, only for override
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (entry_id, version)
);
CREATE TABLE IF NOT EXISTS review_users (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,                     -- judge | admin
    password_hash TEXT NOT NULL,            -- argon2id, PHC string
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS review_corrections (
    correction_id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    model_id TEXT NOT NULL,
    kind TEXT NOT NULL,                     -- not_litter | missed
    det_index INTEGER,                      -- index in the stored detections (not_litter only)
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,  -- full-size pixels
    judge TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS review_corrections_photo ON review_corrections(sha256, model_id);
-- the entry page looks up other entries' dedup results naming its photos (stage = 'dedup')
CREATE INDEX IF NOT EXISTS entry_results_stage ON entry_results(stage);
CREATE TABLE IF NOT EXISTS review_correction_log (
    log_id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    model_id TEXT NOT NULL,
    judge TEXT NOT NULL,
    created_at TEXT NOT NULL,
    corrections_json TEXT NOT NULL
);
"""

#: the intake API's tokens and queue (pipeline.api; SQL in pipeline.store.tokens and pipeline.store.intake)
INTAKE = """
CREATE TABLE IF NOT EXISTS api_tokens (
    name TEXT PRIMARY KEY,                  -- who the token was made for (an app, a partner)
    token_sha256 TEXT NOT NULL UNIQUE,      -- hex sha256 of the token; the token itself is never stored
    created_at TEXT NOT NULL,
    revoked_at TEXT                         -- NULL while the token is valid
);
CREATE TABLE IF NOT EXISTS intake_entries (
    entry_id TEXT PRIMARY KEY,
    token_name TEXT NOT NULL,               -- the token that posted it last
    entry_json TEXT NOT NULL,               -- the validated `entry` part (fields of entry.json), canonical JSON
    post_fingerprint TEXT NOT NULL,         -- sha256 of the post that made this generation (fields + photo bytes)
    generation INTEGER NOT NULL,            -- 1 at the first post; +1 at each replacement or photo addition
    state TEXT NOT NULL,                    -- queued | processing | done
    claimed_generation INTEGER,             -- the generation the worker is scoring (state processing)
    done_generation INTEGER NOT NULL DEFAULT 0,
    rescan INTEGER NOT NULL DEFAULT 0,      -- 1: queued only because another entry sharing its photos changed
    queue_seq INTEGER NOT NULL,             -- order in the queue
    received_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS intake_entries_queue ON intake_entries(state, queue_seq);
CREATE TABLE IF NOT EXISTS intake_photos (
    entry_id TEXT NOT NULL,
    name TEXT NOT NULL,                     -- the photo's path as the entry shows it: ENTRY_ID/ROLE/FILE
    generation INTEGER NOT NULL,            -- the generation that added it
    role TEXT NOT NULL,                     -- before | after
    sha256 TEXT NOT NULL,                   -- the file is WS/intake/photos/<sha256[:2]>/<sha256>
    size_bytes INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,      -- 0: replaced by a later post (the file stays, for dedup)
    PRIMARY KEY (entry_id, name, generation)
);
"""

#: region hashes of the dedup stage (issue 22: deep crops, collages, overlays; pipeline.store.regions)
DEDUP_REGIONS = """
CREATE TABLE IF NOT EXISTS dedup_regions (
    sha256 TEXT PRIMARY KEY,
    version TEXT NOT NULL,        -- pipeline.dedup.regions.STAGE_VERSION
    windows BLOB NOT NULL,        -- len(regions.REGION_BOXES) x 8 bytes, then len(regions.CELL_BOXES) x 8 (v3)
    pictures TEXT NOT NULL,       -- JSON [{"kind": "panel", "box": [x0, y0, x1, y1], "view_bytes": n}, ...]
    picture_phashes BLOB NOT NULL,-- one 8-byte pHash per picture
    picture_views BLOB NOT NULL   -- the pictures' grey JPEG views, concatenated
);
"""

#: the matched region of a copy (issue 22: pipeline.dedup.matched_part), as "x0 y0 x1 y1" fractions of the
#: oriented full photo; NULL: not known (rows stored before version 5, a signature-only match)
DEDUP_MATCH_REGIONS = """
ALTER TABLE dedup_matches ADD COLUMN region TEXT;        -- in the queried photo
ALTER TABLE dedup_matches ADD COLUMN other_region TEXT;  -- in the matched photo
"""

#: (version, statements) in order; a workspace at version v gets every migration above v
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, CORE),
    (2, DEDUP_HASHES + DEDUP_REUSE + DEDUP_MATCHES + REVIEW),
    (3, INTAKE),
    (4, DEDUP_REGIONS),
    (5, DEDUP_MATCH_REGIONS),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


class SchemaTooNew(RuntimeError):
    """The workspace was written by a newer cleanup-verify (message names both versions)."""


def statements(sql: str) -> list[str]:
    """The statements of a block of SQL, one each (comments and blank lines kept inside them)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip() and not all(ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()):
        raise ValueError(f"incomplete SQL statement: {buf.strip()[:80]}")
    return out


def version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in ``meta`` (0: a new, empty database)."""
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database of ``conn`` (autocommit mode) to :data:`SCHEMA_VERSION`; returns the version it
    had. Raises :class:`SchemaTooNew` for a newer one."""
    before = version(conn)
    if before > SCHEMA_VERSION:
        raise SchemaTooNew(f"schema version {before}, newer than this cleanup-verify understands "
                           f"({SCHEMA_VERSION}); upgrade cleanup-verify")
    if before == SCHEMA_VERSION:
        return before
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = version(conn)  # another process may have migrated while this one waited
        for v, sql in MIGRATIONS:
            if v > current:
                for stmt in statements(sql):
                    conn.execute(stmt)
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                     (str(max(current, SCHEMA_VERSION)),))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return before
