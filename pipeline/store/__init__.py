"""Storage: every SQL statement of cleanup-verify, behind functions that take and return typed values.

* :mod:`.workspace`: the workspace folder and its database (:class:`Workspace`: connection, transactions,
  runs, entries, photos, per-photo and per-entry stage results);
* :mod:`.schema`: the versioned schema, applied and upgraded when a workspace is opened;
* :mod:`.files`: atomic file writes (thumbnails, run summaries, exports);
* :mod:`.hash_index`: the dedup hash index's rows; :mod:`.matches`: the stored matches and queried photos;
* :mod:`.reviews`: the review app's decisions, accounts and corrections;
* :mod:`.queries`: the read-only questions of reports, exports and commands;
* :mod:`.tokens`: the intake API's bearer tokens (hashed); :mod:`.intake`: its queue and photo files.

Only the run's single writer (pipeline.run.runner), the review app, the intake API and the commands write.
"""
from . import hash_index, intake, matches, queries, reviews, schema, tokens
from .files import atomic_write_bytes, atomic_write_text
from .schema import SCHEMA_VERSION
from .workspace import Workspace, WorkspaceError

__all__ = ["SCHEMA_VERSION", "Workspace", "WorkspaceError", "atomic_write_bytes", "atomic_write_text", "hash_index",
           "intake", "matches", "queries", "reviews", "schema", "tokens"]
