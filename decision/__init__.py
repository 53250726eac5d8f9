"""The decision engine: catalog -> retrieval -> filters -> scoring -> auction -> podding.

Entry points: `load_catalog`/`parse_catalog` (a validated, immutable `CatalogSnapshot`),
`Engine(...).decide(request, breaks, history, trace=...)` -> `Pod`s, and
`record_impression` for the beacon consumer (frequency caps).
"""

from decision.auction import AuctionConfig
from decision.caps import record_impression, release_reservation
from decision.catalog import (
    Candidate,
    CatalogSnapshot,
    LineItem,
    load_catalog,
    loads_catalog,
    parse_catalog,
)
from decision.engine import Engine, EngineConfig
from decision.errors import CatalogInvalid, DecisionError, InvalidRequest
from decision.pacing_gate import OpenGate, PacingGate
from decision.pod import BreakSpec, Creative, PlacedAd, Pod, StreamHistory
from decision.policy import PolicyConfig
from decision.priors import PriorScorer
from decision.request import AdRequest, parse_ad_request
from decision.scoring import ScoreBatch, Scorer

__all__ = [
    "AdRequest", "AuctionConfig", "BreakSpec", "Candidate", "CatalogInvalid", "CatalogSnapshot", "Creative",
    "DecisionError", "Engine", "EngineConfig", "InvalidRequest", "LineItem", "OpenGate", "PacingGate", "PlacedAd",
    "Pod", "PolicyConfig", "PriorScorer", "ScoreBatch", "Scorer", "StreamHistory", "load_catalog", "loads_catalog",
    "parse_ad_request", "parse_catalog", "record_impression", "release_reservation",
]
