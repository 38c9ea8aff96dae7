"""The cache keys of one run: the key of every photo stage of the registry (:mod:`pipeline.stages`; each
stage declares what its key is made of), the load-error key, the model id and the verify key's config part,
gathered once per run so that plan and commit use the very same keys."""
from __future__ import annotations

from dataclasses import dataclass

from .. import load
from ..config import Config
from ..stages import PHOTO_STAGES
from ..verify import entry


@dataclass(frozen=True)
class RunKeys:
    """``photo``: (stage version, config key) of each photo stage by name; ``load_error``: the same for the
    stored load errors; ``verify_config``: the part of the verify key common to every entry of the run."""

    model_id: str
    load_error: tuple[str, str]
    photo: dict[str, tuple[str, str]]
    verify_config: str

    @classmethod
    def of(cls, cfg: Config, model_id: str) -> "RunKeys":
        load_key = load.cache_key(cfg.load)
        return cls(model_id=model_id, load_error=(load.ERROR_STAGE_VERSION, load_key),
                   photo={s.name: s.key(cfg, load_key) for s in PHOTO_STAGES},
                   verify_config=entry.config_key(cfg.verify, load_key))

    def verify(self, usable: list[tuple[str, str, str]]) -> str:
        """The verify result's key for the entry's usable photos ``(rel_path, role, sha256)``, sorted."""
        return entry.cache_key(self.verify_config, self.model_id, usable)
