"""What a stage declares, and how its results are read and written through :mod:`pipeline.store`.

A **photo stage** computes one result per photo from the decoded photo (pass 1); its result is keyed by the
photo's sha256, the stage's version and config key (what the key is made of: :attr:`PhotoStage.key`) and,
for a stage that uses the detector, the model id. An **entry stage** computes one result per entry from
values read in the plan step; the result is stored under an input key (everything it depends on).

Both compute purely (no workspace, no files), so any executor may run them; only the run's writer stores.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..store import Workspace
from ..types import LoadedPhoto

if TYPE_CHECKING:  # the keys are built from this registry (pipeline.run.keys); only their type is named here
    from ..run.keys import RunKeys


@dataclass(frozen=True)
class PhotoStage:
    """A per-photo stage.

    ``name``: its stored name (``stage_results.stage``); ``key(cfg, load_key)``: ``(stage version, config
    key)``, from the run's configuration and the analysis image's key; ``compute(photos, cfg)``: pure, one
    result per decoded photo (a batch: the detector runs on an entry's photos at once); ``decode``: the
    stored JSON back to the result (results have ``to_dict``); ``uses_model``: the detector's model id is
    part of the key; ``index(ws, result)``: further storage of a result, also of a stored one on every run
    (idempotent: the dedup hash index); ``score_field``: the :class:`pipeline.score.PhotoInfo` field the
    scorer reads it into (None: the scorer does not read it)."""

    name: str
    key: Callable[[Config, str], tuple[str, str]]
    compute: Callable[[Sequence[LoadedPhoto], Config], list[Any]]
    decode: Callable[[dict[str, Any]], Any]
    uses_model: bool = False
    index: Callable[[Workspace, Any], None] | None = None
    score_field: str | None = None

    def read(self, ws: Workspace, sha256: str, keys: "RunKeys") -> Any | None:
        """The stored result of a photo under this run's keys, or None."""
        d = ws.get_result(sha256, self.name, *keys.photo[self.name], model_id=self.model_id(keys))
        return self.decode(d) if d is not None else None

    def write(self, ws: Workspace, sha256: str, keys: "RunKeys", result: Any) -> None:
        """Store a photo's result under this run's keys (inside the caller's transaction)."""
        ws.put_result(sha256, self.name, *keys.photo[self.name], result.to_dict(), model_id=self.model_id(keys))

    def model_id(self, keys: "RunKeys") -> str:
        return keys.model_id if self.uses_model else ""


@dataclass(frozen=True)
class EntryStage:
    """A per-entry stage of pass 3 (pass 1's entry work, the verification, is :mod:`pipeline.run.work`'s).

    ``gather(ws, entry_id, cfg, keys)``: the plan step, reads only, returns the stage's inputs (plain,
    picklable values); ``compute(inputs, done, cfg)``: pure, ``done`` holds the results of the entry's
    earlier stages of the pass by name; ``key(inputs, result, cfg, keys)``: the stored result's input key;
    ``decode``: the stored JSON back to the result."""

    name: str
    gather: Callable[[Workspace, str, Config, "RunKeys"], Any]
    compute: Callable[[Any, dict[str, Any], Config], Any]
    key: Callable[[Any, Any, Config, "RunKeys"], str]
    decode: Callable[[dict[str, Any]], Any]

    def read(self, ws: Workspace, entry_id: str, input_key: str | None = None) -> Any | None:
        """The entry's stored result (under ``input_key`` when given), or None."""
        d = ws.get_entry_result(entry_id, self.name, input_key)
        return self.decode(d) if d is not None else None

    def write(self, ws: Workspace, entry_id: str, input_key: str, result: Any) -> None:
        """Store the entry's result (inside the caller's transaction)."""
        ws.put_entry_result(entry_id, self.name, input_key, result.to_dict())
