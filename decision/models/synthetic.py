"""A seeded synthetic world of CTV impressions with known true completion, click and
viewability probabilities. Used by fixtures/models/train.py to train the shipped models,
by the tests to check calibration on held-out data, and usable by the simulator.

Raw values go through `features.encode`, exactly like online requests, and the truth
is a function of the encoded features (plus interactions a linear model cannot see), so
the shipped models can be checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from decision.models import features as F

_GENRE_P = (0.2, 0.15, 0.1, 0.12, 0.08, 0.1, 0.05, 0.15, 0.05)

COMPLETE_BIAS = 1.9
COMPLETE_W = {
    "genre=drama": 0.3, "genre=comedy": 0.2, "genre=news": -0.3, "genre=sports": 0.1, "genre=kids": -0.5,
    "genre=movies": 0.5, "genre=documentary": 0.25,
    "device_type=mobile": -0.8, "device_type=desktop": -0.5,
    "daypart=primetime": 0.3, "daypart=overnight": -0.35, "daypart=morning": -0.1,
    "position=pre": 0.35, "position=post": -0.6, "live": 0.25, "break_min": -0.15,
    "user_completion_rate": 2.2, "device_completion_rate": 0.8, "content_completion_rate": 1.0,
    "user_impressions_7d_log": -0.2, "content_popularity": 0.3,
    "ad_duration_30s": -0.9, "ad_len=short": 0.3,
    "ad_category=entertainment": 0.25, "ad_category=pharma": -0.3, "ad_category=finance": -0.15,
    "ad_category=auto": 0.1, "tier=sponsorship": 0.3, "tier=house": -0.2,
}
COMPLETE_CENTER = {"user_completion_rate": 0.78, "device_completion_rate": 0.78, "content_completion_rate": 0.78}

CLICK_BIAS = -5.6
CLICK_W = {
    "device_type=mobile": 1.1, "device_type=desktop": 0.8, "clickable": 1.2,
    "genre=sports": 0.2, "genre=news": -0.2, "daypart=daytime": 0.15, "daypart=overnight": -0.3,
    "user_ctr_x10": 2.5, "ad_category=retail": 0.4, "ad_category=tech": 0.3, "ad_category=pharma": -0.4,
    "goal=click": 0.35, "ad_duration_30s": 0.2, "hh_size": -0.3,
}
# interactions: the gradient-boosted click model can learn them, a linear one cannot
CLICK_X = (
    ("genre=sports", "ad_category=auto", 0.9),
    ("genre=kids", "ad_category=cpg", 0.8),
    ("device_type=mobile", "clickable", 0.6),
    ("daypart=primetime", "ad_category=entertainment", 0.5),
)

VIEW_BIAS = 2.0
VIEW_W = {
    "daypart=overnight": -1.2, "daypart=morning": -0.2, "live": 0.6, "device_type=mobile": 0.5,
    "device_type=desktop": 0.3, "device_sessions_7d_log": -0.3, "hh_tv_hours_7d_log": -0.4,
    "position=post": -0.5, "break_min": -0.4, "content_popularity": 0.5,
}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _linear(x: np.ndarray, bias: float, weights: dict[str, float], center: dict[str, float] | None = None) -> np.ndarray:
    z = np.full(x.shape[0], bias, dtype=np.float64)
    for name, w in weights.items():
        col = x[:, F.FEATURE_INDEX[name]].astype(np.float64)
        if center and name in center:
            col = col - center[name]
        z += w * col
    return z


@dataclass(frozen=True)
class Impressions:
    raw: dict[str, np.ndarray]
    x: np.ndarray  # encoded with features.SCHEMA
    p_complete: np.ndarray
    p_click: np.ndarray
    p_viewable: np.ndarray
    complete: np.ndarray
    click: np.ndarray
    viewable: np.ndarray

    def __len__(self) -> int:
        return self.x.shape[0]


def true_probabilities(x: np.ndarray) -> dict[str, np.ndarray]:
    click = _linear(x, CLICK_BIAS, CLICK_W)
    for a, b, w in CLICK_X:
        click += w * x[:, F.FEATURE_INDEX[a]] * x[:, F.FEATURE_INDEX[b]]
    return {
        "complete": _sigmoid(_linear(x, COMPLETE_BIAS, COMPLETE_W, COMPLETE_CENTER)),
        "click": _sigmoid(click),
        "viewable": _sigmoid(_linear(x, VIEW_BIAS, VIEW_W)),
    }


def _maybe(rng: np.random.Generator, known: np.ndarray, values: np.ndarray, default: float) -> np.ndarray:
    return np.where(known, values, default)


def raw_impressions(n: int, rng: np.random.Generator) -> dict[str, Any]:
    d = F.ENTITY_DEFAULTS
    user_known = rng.random(n) < 0.7
    hh_known = rng.random(n) < 0.6
    device_known = rng.random(n) < 0.85
    content_known = rng.random(n) < 0.8
    duration = rng.choice(np.array([6.0, 15.0, 30.0, 45.0, 60.0]), size=n, p=[0.05, 0.35, 0.45, 0.05, 0.1])
    return {
        "genre": rng.choice(np.array(F.GENRES), size=n, p=_GENRE_P),
        "device_type": rng.choice(np.array(F.DEVICE_TYPES), size=n, p=[0.7, 0.2, 0.1]),
        "daypart": rng.choice(np.array(F.DAYPARTS), size=n, p=[0.2, 0.25, 0.4, 0.15]),
        "position": rng.choice(np.array(F.POSITIONS), size=n, p=[0.3, 0.6, 0.1]),
        "live": (rng.random(n) < 0.2).astype(np.float64),
        "break_s": rng.choice(np.array([15.0, 30.0, 60.0, 90.0, 120.0]), size=n),
        "user_known": user_known.astype(np.float64),
        "user_completion_rate": _maybe(rng, user_known, rng.beta(7, 2, n), d["user_completion_rate"]),
        "user_ctr": _maybe(rng, user_known, rng.beta(1.2, 50, n), d["user_ctr"]),
        "user_impressions_7d": _maybe(rng, user_known, rng.poisson(20, n).astype(np.float64), d["user_impressions_7d"]),
        "hh_size": _maybe(rng, hh_known, rng.integers(1, 6, n).astype(np.float64), d["hh_size"]),
        "hh_tv_hours_7d": _maybe(rng, hh_known, rng.gamma(4, 5, n), d["hh_tv_hours_7d"]),
        "device_completion_rate": _maybe(rng, device_known, rng.beta(7, 2, n), d["device_completion_rate"]),
        "device_sessions_7d": _maybe(rng, device_known, rng.poisson(10, n).astype(np.float64), d["device_sessions_7d"]),
        "content_completion_rate": _maybe(rng, content_known, rng.beta(8, 2.2, n), d["content_completion_rate"]),
        "content_popularity": _maybe(rng, content_known, rng.random(n), d["content_popularity"]),
        "ad_duration_s": duration,
        "ad_len": np.array([F.ad_length_bucket(v) for v in (6.0, 15.0, 30.0, 45.0, 60.0)])[
            np.searchsorted(np.array([6.0, 15.0, 30.0, 45.0, 60.0]), duration)],
        "ad_category": rng.choice(np.array(F.AD_CATEGORIES), size=n),
        "tier": rng.choice(np.array(F.TIERS), size=n, p=[0.1, 0.6, 0.25, 0.05]),
        "goal": rng.choice(np.array(F.GOALS), size=n, p=[0.4, 0.2, 0.4]),
        "clickable": (rng.random(n) < 0.5).astype(np.float64),
    }


def impressions(n: int, seed: int) -> Impressions:
    """`n` impressions with their true probabilities and sampled outcomes."""
    rng = np.random.default_rng(seed)
    raw = raw_impressions(n, rng)
    x = F.encode(raw, F.SCHEMA, n)
    truth = true_probabilities(x)
    return Impressions(
        raw=raw, x=x, p_complete=truth["complete"], p_click=truth["click"], p_viewable=truth["viewable"],
        complete=(rng.random(n) < truth["complete"]).astype(np.int8),
        click=(rng.random(n) < truth["click"]).astype(np.int8),
        viewable=(rng.random(n) < truth["viewable"]).astype(np.int8),
    )
