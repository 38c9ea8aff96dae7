"""Same-place verification and litter change (issue 5).

The runner calls :func:`verify_entry` once per entry while the entry's decoded photos are in memory and
stores ``EntryVerification.to_dict()`` as the entry result ``verify``; :func:`measure_quality` once per
photo while loading.
"""
from .change import litter_change
from .entry import EntryVerification, VerifiedPair, verify_entry
from .pairing import Pairing, match_pair, pair_photos
from .quality import PhotoQuality, measure_quality
from .sameplace import PhotoFeatures, extract_features, match_features

__all__ = ["EntryVerification", "VerifiedPair", "verify_entry", "litter_change", "Pairing", "pair_photos",
           "PhotoQuality", "measure_quality", "PhotoFeatures", "extract_features", "match_features",
           "match_pair"]
