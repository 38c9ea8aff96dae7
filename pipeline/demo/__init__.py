"""The bundled demo: a deterministic sample batch of clean-up entries drawn from a seed (``make_sample``),
used by ``cleanup-verify demo``, the tests and the docs. Nothing here is used by a real run."""
from .sample import SampleBatch, make_sample

__all__ = ["SampleBatch", "make_sample"]
