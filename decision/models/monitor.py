"""Model monitoring: per model version latency, calls, errors, prediction distribution,
PSI against the manifest's reference histogram and the calibration ratio (sum of
predicted probabilities / observed outcomes, fed by the beacon counters); per scorer
fallback tier counts and the feature default rate.

Plain Python counters updated on the hot path; `MonitorCollector` turns every live
monitor into Prometheus metrics at scrape time (one collector per process, so scorers
come and go without duplicate registrations), and `describe()` shows the same numbers.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter, deque
from collections.abc import Iterable, Sequence

import numpy as np

from decision.models.manifest import Manifest, histogram, psi

LATENCY_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
DEFAULT_EDGES = tuple(i / 20 for i in range(21))


class VersionStats:
    """Counters of one model version. Updated from the event loop only."""

    def __init__(self, manifest: Manifest, window: int = 2048) -> None:
        self.name = manifest.name
        self.version = manifest.version
        self.edges = np.asarray(manifest.reference_edges or DEFAULT_EDGES)
        bins = len(self.edges) - 1
        # equal-width bins over [0, 1] (the usual case) are counted with bincount
        self._uniform = bins if np.allclose(self.edges, np.linspace(0.0, 1.0, bins + 1)) else 0
        self.reference = tuple(manifest.reference_fractions)
        self.calls = 0
        self.errors: Counter[str] = Counter()
        self.latency_counts = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self.latency_sum = 0.0
        self.recent_latency: deque[float] = deque(maxlen=window)
        self.recent_ok: deque[bool] = deque(maxlen=window)
        self.pred_counts = np.zeros(len(self.edges) - 1, dtype=np.int64)
        self.pred_sum = 0.0
        self.pred_n = 0
        self.outcome_predicted = 0.0
        self.outcome_observed = 0.0
        self.outcome_n = 0

    def observe_call(self, latency_s: float, predictions: np.ndarray | None, error: str | None = None) -> None:
        self.calls += 1
        self.latency_sum += latency_s
        i = 0
        while i < len(LATENCY_BUCKETS_S) and latency_s > LATENCY_BUCKETS_S[i]:
            i += 1
        self.latency_counts[i] += 1
        self.recent_latency.append(latency_s)
        self.recent_ok.append(error is None)
        if error is not None:
            self.errors[error] += 1
        elif predictions is not None and predictions.size:
            if self._uniform:
                idx = np.minimum((predictions * self._uniform).astype(np.intp), self._uniform - 1)
                self.pred_counts += np.bincount(np.maximum(idx, 0), minlength=self._uniform)
            else:
                self.pred_counts += histogram(predictions, self.edges)
            self.pred_sum += float(predictions.sum())
            self.pred_n += int(predictions.size)

    def observe_outcomes(self, predicted_sum: float, observed: float, count: int) -> None:
        self.outcome_predicted += predicted_sum
        self.outcome_observed += observed
        self.outcome_n += count

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def recent_error_rate(self) -> float:
        return 0.0 if not self.recent_ok else 1.0 - sum(self.recent_ok) / len(self.recent_ok)

    def latency_quantile(self, q: float) -> float | None:
        return float(np.quantile(np.fromiter(self.recent_latency, float), q)) if self.recent_latency else None

    def psi(self) -> float | None:
        if not self.reference or not self.pred_n:
            return None
        return psi(self.reference, self.pred_counts)

    def calibration_ratio(self) -> float | None:
        if self.outcome_observed <= 0:
            return None
        return self.outcome_predicted / self.outcome_observed

    def describe(self) -> dict:
        p50, p99 = self.latency_quantile(0.5), self.latency_quantile(0.99)
        return {
            "calls": self.calls,
            "errors": dict(self.errors),
            "error_rate_recent": round(self.recent_error_rate(), 5),
            "latency_ms": {"p50": None if p50 is None else round(p50 * 1000, 3),
                           "p99": None if p99 is None else round(p99 * 1000, 3)},
            "predictions": {"n": self.pred_n, "mean": round(self.pred_sum / self.pred_n, 6) if self.pred_n else None,
                            "histogram": {"edges": [float(e) for e in self.edges], "counts": self.pred_counts.tolist()},
                            "psi": None if self.psi() is None else round(self.psi(), 5)},  # type: ignore[arg-type]
            "calibration": {"impressions": self.outcome_n, "predicted": round(self.outcome_predicted, 3),
                            "observed": self.outcome_observed,
                            "ratio": None if self.calibration_ratio() is None else round(self.calibration_ratio(), 4)},  # type: ignore[arg-type]
        }


class ScorerMonitor:
    """All stats of one `ModelScorer`."""

    def __init__(self) -> None:
        self.versions: dict[tuple[str, str], VersionStats] = {}
        self.tiers: Counter[tuple[str, str]] = Counter()  # (model or "batch", tier)
        self.requests = 0
        self.feature_fields = 0
        self.feature_defaulted = 0
        self.hydration_timeouts = 0
        self.hydration_errors = 0
        self.shadow_compared = 0
        self.shadow_dropped = 0
        _LIVE.add(self)

    def stats(self, manifest: Manifest) -> VersionStats:
        key = (manifest.name, manifest.version)
        st = self.versions.get(key)
        if st is None:
            st = self.versions[key] = VersionStats(manifest)
        return st

    def observe_tier(self, model: str, tier: str) -> None:
        self.tiers[(model, tier)] += 1

    def observe_features(self, defaulted: int, total: int, timed_out: bool, error: bool) -> None:
        self.requests += 1
        self.feature_fields += total
        self.feature_defaulted += defaulted
        self.hydration_timeouts += int(timed_out)
        self.hydration_errors += int(error)

    def feature_default_rate(self) -> float:
        return self.feature_defaulted / self.feature_fields if self.feature_fields else 0.0

    def describe(self) -> dict:
        tiers: dict[str, dict[str, int]] = {}
        for (model, tier), n in sorted(self.tiers.items()):
            tiers.setdefault(model, {})[tier] = n
        return {
            "requests": self.requests,
            "fallback_tiers": tiers,
            "features": {"default_rate": round(self.feature_default_rate(), 5),
                         "hydration_timeouts": self.hydration_timeouts, "hydration_errors": self.hydration_errors},
            "shadow": {"compared": self.shadow_compared, "dropped": self.shadow_dropped},
        }


_LIVE: weakref.WeakSet[ScorerMonitor] = weakref.WeakSet()
_REGISTERED: set[int] = set()
_LOCK = threading.Lock()


class MonitorCollector:
    """A Prometheus collector over every live `ScorerMonitor` (or the given ones)."""

    def __init__(self, monitors: Iterable[ScorerMonitor] | None = None) -> None:
        self._monitors = None if monitors is None else list(monitors)

    def collect(self):
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        monitors: Sequence[ScorerMonitor] = self._monitors if self._monitors is not None else list(_LIVE)
        lat = HistogramMetricFamily("adgw_model_latency_seconds", "Model run latency per version",
                                    labels=["model", "version"])
        calls = CounterMetricFamily("adgw_model_calls", "Model runs per version", labels=["model", "version"])
        errors = CounterMetricFamily("adgw_model_errors", "Failed model runs per version and kind",
                                     labels=["model", "version", "kind"])
        mean = GaugeMetricFamily("adgw_model_prediction_mean", "Mean prediction per version", labels=["model", "version"])
        psi_g = GaugeMetricFamily("adgw_model_psi", "PSI of predictions vs the manifest reference histogram",
                                  labels=["model", "version"])
        cal = GaugeMetricFamily("adgw_model_calibration_ratio", "Sum of predictions / observed outcomes",
                                labels=["model", "version"])
        tiers = CounterMetricFamily("adgw_model_fallback", "Scores served per model and fallback tier",
                                    labels=["model", "tier"])
        default_rate = GaugeMetricFamily("adgw_feature_default_rate", "Share of entity features served as defaults")
        timeouts = CounterMetricFamily("adgw_feature_hydration_timeouts", "Feature hydrations past their deadline")
        agg_tiers: Counter[tuple[str, str]] = Counter()
        fields = defaulted = n_timeouts = 0
        for mon in monitors:
            for (name, version), st in list(mon.versions.items()):
                cumulative, buckets = 0, []
                for bound, n in zip((*LATENCY_BUCKETS_S, float("inf")), st.latency_counts, strict=True):
                    cumulative += n
                    buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
                lat.add_metric([name, version], buckets, st.latency_sum)
                calls.add_metric([name, version], st.calls)
                for kind, n in st.errors.items():
                    errors.add_metric([name, version, kind], n)
                if st.pred_n:
                    mean.add_metric([name, version], st.pred_sum / st.pred_n)
                if (value := st.psi()) is not None:
                    psi_g.add_metric([name, version], value)
                if (ratio := st.calibration_ratio()) is not None:
                    cal.add_metric([name, version], ratio)
            agg_tiers.update(mon.tiers)
            fields += mon.feature_fields
            defaulted += mon.feature_defaulted
            n_timeouts += mon.hydration_timeouts
        for (model, tier), n in agg_tiers.items():
            tiers.add_metric([model, tier], n)
        default_rate.add_metric([], defaulted / fields if fields else 0.0)
        timeouts.add_metric([], n_timeouts)
        yield from (lat, calls, errors, mean, psi_g, cal, tiers, default_rate, timeouts)


def register_default_collector(registry=None) -> None:
    """Register `MonitorCollector` once per registry (default: prometheus_client's)."""
    from prometheus_client import REGISTRY

    target = registry or REGISTRY
    with _LOCK:
        if id(target) in _REGISTERED:
            return
        target.register(MonitorCollector())
        _REGISTERED.add(id(target))
