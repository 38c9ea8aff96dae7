"""The stage registry: what the run computes, in order. Adding a stage is one module here (declaring its
name, how its cache key is made, a pure ``compute`` and how its result is stored and read:
:mod:`pipeline.stages.base`) and one line below.

* photo stages (pass 1, per photo, on the executor; committed by the run's writer): ``hash``, ``quality``,
  ``detect``;
* entry stages (pass 3, per entry: gathered by the writer, computed on the executor, committed in one
  transaction per entry): ``dedup``, then ``score`` (which reads the flags of ``dedup``).

Pass 1 also decodes each photo (metadata and thumbnail: :mod:`pipeline.load`) and verifies each entry
(:mod:`pipeline.verify.entry`, entry result ``verify``): :mod:`pipeline.run.work`.
"""
from . import dedup, detect, hashes, quality, score
from .base import EntryStage, PhotoStage

PHOTO_STAGES: tuple[PhotoStage, ...] = (hashes.STAGE, quality.STAGE, detect.STAGE)
ENTRY_STAGES: tuple[EntryStage, ...] = (dedup.STAGE, score.STAGE)

__all__ = ["ENTRY_STAGES", "PHOTO_STAGES", "EntryStage", "PhotoStage"]
