"""cleanup-verify: first-pass judging of photo-based clean-up challenges.

Stages (one module or sub-package each): ``ingest`` -> ``load`` -> ``dedup`` (hash, index, match) ->
``detect`` -> ``verify`` -> ``score`` -> ``export``/``report``; ``runner`` wires them over a ``Workspace``.
"""
__version__ = "0.1.0"
