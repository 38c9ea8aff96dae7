"""Score 0-100 with components, flags and a bilingual explanation (issue 5).

The runner builds a :class:`ScoreInputs` per entry and calls :func:`score_entry`.
"""
from .card import haversine_m, score_entry
from .explain import ScoreFacts, explain
from .flag_codes import FLAGS, FlagSpec, flag_table_markdown, make_flag
from .inputs import PhotoInfo, ScoreInputs

__all__ = ["score_entry", "haversine_m", "ScoreFacts", "explain", "FLAGS", "FlagSpec", "flag_table_markdown",
           "make_flag", "PhotoInfo", "ScoreInputs"]
