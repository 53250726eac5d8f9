"""`ModelScorer`: ONNX models behind the `Scorer` protocol.

- One onnxruntime session per model version, one batched run per model per request,
  every model reading the same feature matrix (column subsets where a model uses fewer
  features). Runs go to a small thread pool so a per-request deadline can be enforced.
- Fallback per target: T0 active (or canary) version, T1 previous version, T2
  calibrated priors, T3 constants. A circuit breaker per version skips a failing one
  at once instead of paying its timeout on every request.
- Zero-downtime hot swap: a version is loaded, validated and warmed up in a
  background thread, then swapped in with one assignment; the retired session is
  released when its last in-flight run returns.
- Canary: a stable hash of the device routes a share of traffic to a candidate
  version; it is rolled back automatically when its error rate, latency or
  calibration regress against the active version.
- Calibration: `refresh_outcomes()` (run every `outcomes_interval_s`) reads the
  predictions and outcomes the beacon counters recorded per version and feeds the
  monitor (ratio per version in `describe()` and Prometheus) and the canary check.
- Shadow: a candidate scores a sample of requests off the response path; both scores
  are logged and never reach the decision.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from decision.models import features as F
from decision.models import outcomes
from decision.models.errors import ModelConfigError, ModelNotFound
from decision.models.fallback import CircuitBreaker, constant_batch
from decision.models.manifest import Manifest
from decision.models.monitor import ScorerMonitor, VersionStats, register_default_collector
from decision.models.registry import Registry, version_key
from decision.models.validate import SessionFactory, check_model, run
from decision.priors import PriorScorer
from decision.request import AdRequest
from decision.scoring import ScoreBatch, Scorer
from store.cancel import cancel_and_wait

log = logging.getLogger("decision.models")
shadow_log = logging.getLogger("decision.models.shadow")

TIERS = ("T0", "T1", "T2", "T3")
BATCH_TARGETS = ("complete", "click")


class ModelUnavailable(Exception):
    """The version's session was released (it was swapped out)."""


class LoadedModel:
    """One served model version: its session plus lease counting for safe release."""

    def __init__(self, manifest: Manifest, session: Any, columns: np.ndarray | None, stats: VersionStats,
                 breaker: CircuitBreaker, latency_ms: float | None, loaded_at: float) -> None:
        self.manifest = manifest
        self.session = session
        self.columns = columns
        self.stats = stats
        self.breaker = breaker
        self.latency_ms = latency_ms
        self.loaded_at = loaded_at
        self._lock = threading.Lock()
        self._inflight = 0
        self.overdue = 0  # runs still executing after their caller gave up on them
        self.retired = False
        self.closed = False

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def label(self) -> str:
        return self.manifest.label

    @property
    def inflight(self) -> int:
        return self._inflight

    def acquire(self) -> bool:
        with self._lock:
            if self.closed:
                return False
            self._inflight += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._inflight -= 1
            if self.retired and self._inflight == 0:
                self._close()

    def retire(self) -> None:
        with self._lock:
            self.retired = True
            if self._inflight == 0:
                self._close()

    def _close(self) -> None:
        self.closed = True
        self.session = None  # onnxruntime frees the session with its last reference

    def overdue_done(self) -> None:
        with self._lock:
            self.overdue -= 1

    def predict(self, x: np.ndarray, run_options: Any) -> np.ndarray:
        """Runs in a worker thread with a lease taken by the caller; releases it."""
        try:
            session = self.session
            if session is None:
                raise ModelUnavailable(self.label)
            if self.columns is not None:
                x = x[:, self.columns]
            return self.manifest.calibrate(run(session, self.manifest, x, run_options))
        finally:
            self.release()

    def predict_batch(self, x: np.ndarray) -> np.ndarray:
        """Calibrated predictions for a full feature matrix, in the calling thread
        (offline evaluation; serving goes through `ModelScorer.score`)."""
        if not self.acquire():
            raise ModelUnavailable(self.label)
        return self.predict(np.ascontiguousarray(x, dtype=np.float32), None)

    def describe(self) -> dict:
        return {"version": self.version, "loaded_at": self.loaded_at, "load_latency_p50_ms": self.latency_ms,
                "breaker": self.breaker.state, "inflight": self._inflight, "sha256": self.manifest.sha256,
                "owner": self.manifest.owner, "stats": self.stats.describe()}


@dataclass(frozen=True)
class SlotState:
    """What serves one model name; replaced as a whole (the atomic swap)."""

    active: LoadedModel | None = None
    previous: LoadedModel | None = None
    canary: LoadedModel | None = None
    canary_percent: float = 0.0
    shadow: LoadedModel | None = None

    def models(self) -> set[LoadedModel]:
        return {m for m in (self.active, self.previous, self.canary, self.shadow) if m is not None}


@dataclass
class ModelSlot:
    name: str
    target: str | None = None
    state: SlotState = field(default_factory=SlotState)
    rejected: dict[str, tuple[tuple[int, int], list[str]]] = field(default_factory=dict)
    last_rollback: dict | None = None
    events: deque = field(default_factory=lambda: deque(maxlen=20))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True)
class ServingSettings:
    model_timeout_s: float = 0.020  # per attempt; the request deadline caps it further
    default_budget_s: float = 0.050  # when the caller passes no deadline
    hydration_timeout_s: float = 0.003
    priors_reserve_s: float = 0.0005  # kept for T2 when trying T1
    inference_threads: int = 4
    breaker_threshold: int = 3
    breaker_cooldown_s: float = 5.0
    max_overdue: int = 1  # a version with this many runs stuck past their deadline is skipped
    shadow_sample: float = 0.1
    shadow_max_pending: int = 4
    poll_interval_s: float | None = 30.0
    canary_min_calls: int = 100
    canary_max_error_delta: float = 0.02
    canary_latency_factor: float = 2.0
    canary_latency_slack_s: float = 0.002
    canary_min_outcomes: float = 50.0
    canary_max_calibration_error: float = 0.15
    # calibration from the beacon counters (decision/models/outcomes.py): read every
    # `outcomes_interval_s`, over the cohorts of the last `calibration_window_s` that are at
    # least `calibration_maturity_s` old (their completes and clicks have arrived)
    outcomes_interval_s: float | None = 30.0
    calibration_window_s: float = 6 * 3600.0
    calibration_maturity_s: float = 600.0


def canary_bucket(model: str, key: str) -> int:
    """Stable bucket 0..9999 of a device for a model (salted by model name so canaries of
    different models pick independent devices)."""
    digest = hashlib.blake2b(f"{model}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000


class ModelScorer:
    """ONNX scoring with hot swap, canary, shadow and tiered fallback. Implements `Scorer`.

    `start()` loads the newest valid version of every model in the registry (and the
    one before it as the T1 fallback) and starts the registry poll; `stop()` ends it.
    """

    def __init__(self, registry_dir: Path | str, *, store: Any | None = None, priors: Scorer | None = None,
                 settings: ServingSettings | None = None, session_factory: SessionFactory | None = None,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None, prometheus_registry: Any = None) -> None:
        self.registry = Registry(registry_dir)
        self.settings = settings or ServingSettings()
        self._session_factory = session_factory
        self._clock = clock
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._priors: Scorer = priors if priors is not None else PriorScorer()
        self.hydrator = F.FeatureHydrator(store, timeout_s=self.settings.hydration_timeout_s, monotonic=monotonic)
        self._store = store
        self._outcomes_fed: dict[tuple[str, str], tuple[int, int, int]] = {}
        self._outcomes_task: asyncio.Task | None = None
        self.outcomes_state: dict[str, Any] = {"refreshed_at": None, "cohorts": 0, "error": None}
        self.ads = F.AdFeatureCache()
        self.monitor = ScorerMonitor()
        self._prometheus_registry = prometheus_registry
        self.slots: dict[str, ModelSlot] = {}
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._shadow_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._load_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._poll_task: asyncio.Task | None = None
        self._shadow_tasks: set[asyncio.Task] = set()
        self._retiring: set[LoadedModel] = set()
        self.shadow_records: deque[dict] = deque(maxlen=256)
        self.started = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.started:
            return
        s = self.settings
        self._pool = concurrent.futures.ThreadPoolExecutor(s.inference_threads, thread_name_prefix="adgw-infer")
        self._shadow_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="adgw-shadow")
        self._load_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="adgw-model-load")
        register_default_collector(self._prometheus_registry)
        for name in self.registry.names():
            await self._open_slot(name)
        self.started = True
        if s.poll_interval_s:
            self._poll_task = asyncio.create_task(self._poll_loop(s.poll_interval_s), name="adgw-model-poll")
        if s.outcomes_interval_s and self._store is not None:
            self._outcomes_task = asyncio.create_task(self._outcomes_loop(s.outcomes_interval_s),
                                                      name="adgw-model-outcomes")

    async def stop(self) -> None:
        for task in (self._poll_task, self._outcomes_task, *self._shadow_tasks):
            if task is not None:
                await cancel_and_wait(task)  # one cancel can be lost in redis-py (store/cancel.py)
        self._poll_task = self._outcomes_task = None
        for slot in self.slots.values():
            for model in slot.state.models():
                model.retire()
            slot.state = SlotState()
        for pool in (self._pool, self._shadow_pool, self._load_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._shadow_pool = self._load_pool = None
        self.started = False

    async def __aenter__(self) -> ModelScorer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def precompute_ads(self, candidates: Sequence[Any]) -> None:
        """Encode a new catalog snapshot's candidates ahead of traffic (optional: rows
        are otherwise encoded on first sight)."""
        self.ads.precompute(candidates)

    # ------------------------------------------------------------------ loading

    async def _load(self, name: str, version: str) -> LoadedModel | list[str]:
        entry = self.registry.entry(name, version)
        if entry is None:
            return [f"{name}@{version} is not in the registry {self.registry.root}"]
        loop = asyncio.get_running_loop()
        checked = await loop.run_in_executor(self._load_pool, lambda: check_model(entry.path, session_factory=self._session_factory, latency_quantile=0.5))
        if not checked.ok:
            self.slot(name).rejected[version] = (entry.stamp, checked.problems)
            log.warning("model %s@%s rejected: %s", name, version, "; ".join(checked.problems))
            return checked.problems
        manifest = checked.manifest
        assert manifest is not None
        if manifest.name != name or manifest.version != version:
            manifest = replace(manifest, name=name, version=version)
        slot = self.slot(name)
        if slot.target is None:
            slot.target = manifest.target
        elif slot.target != manifest.target:
            problems = [f"{name}@{version} predicts {manifest.target!r}, the model predicts {slot.target!r}"]
            slot.rejected[version] = (entry.stamp, problems)
            return problems
        slot.rejected.pop(version, None)
        s = self.settings
        return LoadedModel(manifest, checked.session, checked.columns, self.monitor.stats(manifest),
                           CircuitBreaker(s.breaker_threshold, s.breaker_cooldown_s, self._monotonic),
                           checked.latency_ms, self._clock())

    def slot(self, name: str) -> ModelSlot:
        slot = self.slots.get(name)
        if slot is None:
            slot = self.slots[name] = ModelSlot(name)
        return slot

    async def _open_slot(self, name: str) -> None:
        """Newest valid version becomes active, the next valid one below it previous."""
        slot = self.slot(name)
        async with slot.lock:
            found: list[LoadedModel] = []
            for entry in reversed(self.registry.versions(name)):
                loaded = await self._load(name, entry.version)
                if isinstance(loaded, LoadedModel):
                    found.append(loaded)
                    if len(found) == 2:
                        break
            self._swap(slot, SlotState(active=found[0] if found else None, previous=found[1] if len(found) > 1 else None),
                       "start")

    def _swap(self, slot: ModelSlot, new: SlotState, why: str) -> None:
        old = slot.state
        slot.state = new  # the atomic swap: requests read slot.state once
        keep = new.models()
        for model in old.models() - keep:
            model.retire()
            if not model.closed:
                self._retiring.add(model)
        self._retiring = {m for m in self._retiring if not m.closed}
        slot.events.append({"at": self._clock(), "event": why,
                            "active": new.active.version if new.active else None,
                            "previous": new.previous.version if new.previous else None,
                            "canary": new.canary.version if new.canary else None,
                            "canary_percent": new.canary_percent,
                            "shadow": new.shadow.version if new.shadow else None})
        log.info("models %s: %s (active=%s previous=%s canary=%s %.1f%% shadow=%s)", slot.name, why,
                 *(m.version if m else None for m in (new.active, new.previous, new.canary)),
                 new.canary_percent, new.shadow.version if new.shadow else None)

    async def _get_or_load(self, slot: ModelSlot, version: str) -> LoadedModel:
        for model in slot.state.models():
            if model.version == version:
                return model
        if self.registry.entry(slot.name, version) is None:
            raise ModelNotFound(slot.name, version)
        loaded = await self._load(slot.name, version)
        if not isinstance(loaded, LoadedModel):
            raise ModelConfigError([f"{slot.name}@{version}: {p}" for p in loaded])
        return loaded

    async def activate(self, name: str, version: str) -> list[str]:
        """Make `version` the active one (the current active becomes previous). Returns
        the problems when it fails validation; serving is unchanged then."""
        if name not in self.slots and not self.registry.versions(name):
            return [f"model {name!r} is not in the registry {self.registry.root}"]
        slot = self.slot(name)
        async with slot.lock:
            try:
                model = await self._get_or_load(slot, version)
            except (ModelConfigError, ModelNotFound) as exc:
                return getattr(exc, "problems", [str(exc)])
            old = slot.state
            if old.active is model:
                return []
            previous = old.active if old.active is not None else old.previous
            if previous is model:
                previous = old.previous if old.previous is not model else None
            self._swap(slot, replace(old, active=model, previous=previous,
                                     canary=None if old.canary is model else old.canary,
                                     canary_percent=0.0 if old.canary is model else old.canary_percent),
                       f"activate {version}")
            return []

    async def poll_once(self) -> dict[str, list[str]]:
        """Look for new models and versions; activate the newest new version of each.
        Returns {label: problems} of what it tried."""
        tried: dict[str, list[str]] = {}
        for name in self.registry.names():
            if name not in self.slots or self.slots[name].state.active is None and not self.slots[name].rejected:
                await self._open_slot(name)
                tried[name] = []
                continue
            slot = self.slots[name]
            active = slot.state.active
            newest = None
            for entry in reversed(self.registry.versions(name)):
                rejected = slot.rejected.get(entry.version)
                if rejected is not None and rejected[0] == entry.stamp:
                    continue
                if active is not None and version_key(entry.version) <= version_key(active.version):
                    break
                newest = entry
                break
            if newest is not None:
                tried[newest.label] = await self.activate(name, newest.version)
        return tried

    async def _poll_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.poll_once()
            except Exception:  # noqa: BLE001 - the poll must outlive a bad registry state
                log.exception("model registry poll failed")

    # ------------------------------------------------------------------ admin

    async def configure(self, name: str, version: str | None = None, canary_percent: float | None = None,
                        canary_version: str | None = None, shadow_version: str | None = None) -> dict:
        """`POST /admin/models/{name}`: activate `version`; route `canary_percent` (0..100)
        of devices to `canary_version` (percent 0 ends the canary); score a sample with
        `shadow_version` off the response path ("" ends the shadow)."""
        if name not in self.slots and not self.registry.versions(name):
            raise ModelNotFound(name)
        problems: list[str] = []
        if canary_percent is not None and not (0.0 <= float(canary_percent) <= 100.0):
            problems.append(f"canary_percent must be within 0..100, got {canary_percent}")
        if problems:
            raise ModelConfigError(problems)
        if version is not None:
            problems = await self.activate(name, version)
            if problems:
                raise ModelConfigError(problems)
        slot = self.slot(name)
        async with slot.lock:
            state = slot.state
            if canary_version is not None or canary_percent is not None:
                canary = state.canary
                if canary_version:
                    canary = await self._get_or_load(slot, canary_version)
                elif canary_version == "":
                    canary = None
                percent = state.canary_percent if canary_percent is None else float(canary_percent)
                if canary is not None and canary is state.active:
                    raise ModelConfigError([f"{name}@{canary.version} is already active"])
                if canary is None or percent <= 0.0:
                    canary, percent = None, 0.0
                state = replace(state, canary=canary, canary_percent=percent)
            if shadow_version is not None:
                shadow = await self._get_or_load(slot, shadow_version) if shadow_version else None
                state = replace(state, shadow=shadow)
            if state != slot.state:
                self._swap(slot, state, "configure")
        return self.describe_model(name)

    def describe_model(self, name: str) -> dict:
        slot = self.slots.get(name)
        if slot is None:
            raise ModelNotFound(name)
        st = slot.state
        return {
            "target": slot.target,
            "active": st.active.describe() if st.active else None,
            "previous": st.previous.describe() if st.previous else None,
            "canary": None if st.canary is None else {**st.canary.describe(), "percent": st.canary_percent},
            "shadow": None if st.shadow is None else {**st.shadow.describe(), "sample": self.settings.shadow_sample},
            "versions_on_disk": [e.version for e in self.registry.versions(name)],
            "rejected": {v: problems for v, (_, problems) in slot.rejected.items()},
            "last_rollback": slot.last_rollback,
            "events": list(slot.events),
        }

    def describe(self) -> dict:
        """`GET /admin/models`."""
        return {
            "registry": str(self.registry.root),
            "started": self.started,
            "models": {name: self.describe_model(name) for name in sorted(self.slots)},
            "retiring": [{"model": m.label, "inflight": m.inflight} for m in self._retiring if not m.closed],
            "monitor": self.monitor.describe(),
            "outcomes": self.outcomes_state,
            "settings": {k: getattr(self.settings, k) for k in ("model_timeout_s", "default_budget_s",
                                                               "hydration_timeout_s", "shadow_sample",
                                                               "poll_interval_s", "outcomes_interval_s",
                                                               "calibration_window_s", "calibration_maturity_s")},
        }

    def health(self) -> dict:
        """For /readyz: ready once started; `degraded` names models served by a fallback."""
        degraded = sorted(n for n, s in self.slots.items() if s.state.active is None)
        return {"ready": self.started, "active": {n: s.state.active.version for n, s in self.slots.items() if s.state.active},
                "degraded": degraded}

    def record_outcomes(self, name: str, version: str, *, predicted: float, observed: float, count: int = 1) -> None:
        """Feed calibration: `predicted` is the sum of the version's predictions for
        `count` impressions, `observed` how many had the outcome (completes, clicks)."""
        stats = self.monitor.versions.get((name, version))
        if stats is None:
            return
        stats.observe_outcomes(predicted, observed, count)
        slot = self.slots.get(name)
        if slot is not None and slot.state.canary is not None and slot.state.canary.version == version:
            self._check_canary(slot)

    async def refresh_outcomes(self, *, now: float | None = None) -> dict[str, tuple[int, int, int]]:
        """Read what the beacon counters recorded for every version this scorer has
        served and feed the difference since the last read to `record_outcomes` (the
        monitor then holds the window's totals; a version whose cohorts age out of the
        window loses them again). `now` is the instant to read as of (default: the clock).
        Returns {label: (impressions, predicted micro-units, outcomes)}."""
        if self._store is None:
            return {}
        s = self.settings
        at = self._clock() if now is None else now
        cohorts = outcomes.mature_cohorts(at, s.calibration_window_s, s.calibration_maturity_s)
        canaries = {(n, sl.state.canary.version) for n, sl in self.slots.items() if sl.state.canary is not None}
        # canaries last: their check compares with the active version's ratio, fed first
        keys = sorted(self.monitor.versions, key=lambda k: k in canaries)
        totals = await outcomes.read_cohorts(self._store, [f"{n}@{v}" for n, v in keys], cohorts)
        for name, version in keys:
            n, pred, obs = totals[f"{name}@{version}"]
            fed = self._outcomes_fed.get((name, version), (0, 0, 0))
            if (n, pred, obs) != fed:
                self._outcomes_fed[(name, version)] = (n, pred, obs)
                self.record_outcomes(name, version, predicted=(pred - fed[1]) / outcomes.MICRO,
                                     observed=obs - fed[2], count=n - fed[0])
        self.outcomes_state = {"refreshed_at": at, "cohorts": len(cohorts), "error": None}
        return totals

    async def _outcomes_loop(self, interval: float) -> None:
        while True:
            try:
                await self.refresh_outcomes()
            except Exception as exc:  # noqa: BLE001 - an unreadable store must not end the loop
                self.outcomes_state = {**self.outcomes_state, "error": str(exc) or type(exc).__name__}
                log.warning("model outcomes refresh failed: %s", exc)
            await asyncio.sleep(interval)

    # ------------------------------------------------------------------ scoring

    async def score(self, request: AdRequest, candidates: Sequence[Any], *, deadline: float | None = None) -> ScoreBatch:
        now = self._monotonic()
        if deadline is None:
            deadline = now + self.settings.default_budget_s
        n = len(candidates)
        # capture what serves, with leases, before the first await: a swap after this
        # point cannot release a session this request is about to use
        plan = self._plan(request)
        leased = [m for _, chain in plan for m, _ in chain if m.acquire()]
        try:
            return await self._score(request, candidates, n, deadline, plan)
        finally:
            for m in leased:
                m.release()

    def routes(self, request: AdRequest) -> dict[str, str | None]:
        """Which version would serve each model as T0 for this request (canary routing)."""
        return {slot.name: (chain[0][0].version if chain and chain[0][1] == "T0" else None)
                for slot, chain in self._plan(request)}

    def _plan(self, request: AdRequest) -> list[tuple[ModelSlot, list[tuple[LoadedModel, str]]]]:
        plan = []
        key = request.device_key
        for slot in self.slots.values():
            st = slot.state
            chain: list[tuple[LoadedModel, str]] = []
            if st.canary is not None and canary_bucket(slot.name, key) < st.canary_percent * 100:
                chain.append((st.canary, "T0"))
            if st.active is not None:
                chain.append((st.active, "T0"))
            if st.previous is not None:
                chain.append((st.previous, "T1"))
            plan.append((slot, [(m, t) for m, t in chain if not m.closed]))
        return plan

    async def _score(self, request: AdRequest, candidates: Sequence[Any], n: int, deadline: float,
                     plan: list[tuple[ModelSlot, list[tuple[LoadedModel, str]]]]) -> ScoreBatch:
        tiers: dict[str, str] = {}
        scores: dict[str, np.ndarray] = {}
        used: list[str] = []
        meta: dict[str, Any] = {}
        served: dict[str, str] = {}  # target -> label of what scored it (the engine records it per ad)
        x = None
        if n and plan and any(chain for _, chain in plan):
            remaining = deadline - self._monotonic()
            hydrated = await self.hydrator.hydrate(request, timeout_s=remaining / 2)
            self.monitor.observe_features(hydrated.defaulted, hydrated.total, hydrated.timed_out, hydrated.error is not None)
            meta["features"] = {"defaulted": hydrated.defaulted, "total": hydrated.total, "timed_out": hydrated.timed_out}
            raw = F.request_raw(request, self._clock(), hydrated.values)
            x = F.assemble(F.encode(raw, F.REQUEST_FEATURES, 1)[0], self.ads.matrix(candidates))
            results = await asyncio.gather(*(self._score_slot(slot, chain, x, deadline) for slot, chain in plan if chain))
            for slot, (probs, tier, model) in zip([s for s, c in plan if c], results, strict=True):
                target = slot.target or slot.name
                if target in scores:
                    continue  # two models for one target: the first one (by name) serves
                if probs is None and target in BATCH_TARGETS:
                    continue  # priors serve it below
                tiers[target] = tier if probs is not None else "T3"  # no priors for other targets
                self.monitor.observe_tier(target, tiers[target])
                if probs is not None and model is not None:
                    scores[target] = probs
                    used.append(model.label)
                    served[target] = model.label
                    if model is slot.state.canary:
                        meta.setdefault("canary", []).append(model.label)
            self._maybe_shadow(request, plan, x, scores)
        priors_c = priors_k = None
        if any(t not in scores for t in BATCH_TARGETS):
            priors_tier = "T2"
            try:
                pb = await self._priors.score(request, candidates, deadline=deadline)
                priors_c, priors_k = list(pb.p_complete), list(pb.p_click)
                if len(priors_c) != n or len(priors_k) != n:
                    raise ValueError("priors returned a batch of the wrong size")
                used.append("priors")
            except Exception:  # noqa: BLE001 - priors failing leaves constants
                log.exception("priors scorer failed; serving constants")
                priors_c, priors_k = constant_batch(n)
                priors_tier = "T3"
            for target in BATCH_TARGETS:
                if target not in scores:
                    tiers[target] = priors_tier
                    served[target] = "priors" if priors_tier == "T2" else "constant"
                    self.monitor.observe_tier(target, priors_tier)
        p_complete = scores["complete"].tolist() if "complete" in scores else priors_c
        p_click = scores["click"].tolist() if "click" in scores else priors_k
        for target, probs in scores.items():
            if target not in BATCH_TARGETS:
                meta[f"p_{target}"] = probs.tolist()
        tier = max((tiers[t] for t in BATCH_TARGETS), key=TIERS.index)
        self.monitor.observe_tier("batch", tier)
        meta["tiers"] = tiers
        meta["models"] = served
        return ScoreBatch(p_complete=p_complete, p_click=p_click, tier=tier, versions=tuple(used), meta=meta)

    async def _score_slot(self, slot: ModelSlot, chain: list[tuple[LoadedModel, str]], x: np.ndarray,
                          deadline: float) -> tuple[np.ndarray | None, str, LoadedModel | None]:
        s = self.settings
        for model, tier in chain:
            remaining = deadline - self._monotonic() - s.priors_reserve_s
            if remaining <= 0:
                break
            if model.overdue >= s.max_overdue or not model.breaker.allow():
                model.stats.recent_ok.append(False)
                model.stats.errors["skipped"] += 1
                self._after_call(slot, model)
                continue
            t0 = self._monotonic()
            error = None
            probs = None
            try:
                probs = await self._run(self._pool, model, x, min(s.model_timeout_s, remaining))
                if probs.shape != (x.shape[0],) or not np.all(np.isfinite(probs)):
                    error, probs = "bad_output", None
            except TimeoutError:
                error = "timeout"
            except Exception as exc:  # noqa: BLE001 - any model failure falls back
                error = "unavailable" if isinstance(exc, ModelUnavailable) else "error"
                log.warning("model %s failed: %s", model.label, exc)
            model.stats.observe_call(self._monotonic() - t0, probs, error)
            if error is None:
                model.breaker.success()
                self._after_call(slot, model)
                return probs, tier, model
            model.breaker.failure()
            self._after_call(slot, model)
        return None, "T2", None

    async def _run(self, pool: concurrent.futures.Executor | None, model: LoadedModel, x: np.ndarray,
                   budget_s: float) -> np.ndarray:
        if pool is None:
            raise ModelUnavailable("scorer is not started")
        if not model.acquire():
            raise ModelUnavailable(model.label)
        options = _run_options()
        try:
            cf = pool.submit(model.predict, x, options)
        except RuntimeError:  # pool shut down
            model.release()
            raise ModelUnavailable(model.label) from None
        cf.add_done_callback(lambda f: model.release() if f.cancelled() else None)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(cf), budget_s)
        except TimeoutError:
            if options is not None:
                options.terminate = True  # onnxruntime stops the run between nodes
            if not cf.done():
                with model._lock:
                    model.overdue += 1
                cf.add_done_callback(lambda _: model.overdue_done())
            raise

    # ------------------------------------------------------------------ canary

    def _after_call(self, slot: ModelSlot, model: LoadedModel) -> None:
        if model is slot.state.canary and len(model.stats.recent_ok) % 25 == 0:
            self._check_canary(slot)

    def _check_canary(self, slot: ModelSlot) -> None:
        st, s = slot.state, self.settings
        canary, active = st.canary, st.active
        if canary is None:
            return
        cs = canary.stats
        reason = None
        if len(cs.recent_ok) >= s.canary_min_calls:
            base_err = active.stats.recent_error_rate() if active else 0.0
            if cs.recent_error_rate() > base_err + s.canary_max_error_delta:
                reason = f"error rate {cs.recent_error_rate():.3f} vs {base_err:.3f}"
            elif active is not None and len(active.stats.recent_latency) >= s.canary_min_calls and len(cs.recent_latency) >= s.canary_min_calls:
                c99, a99 = cs.latency_quantile(0.99), active.stats.latency_quantile(0.99)
                if c99 is not None and a99 is not None and c99 > max(a99 * s.canary_latency_factor, a99 + s.canary_latency_slack_s):
                    reason = f"p99 latency {c99 * 1000:.2f} ms vs {a99 * 1000:.2f} ms"
        if reason is None and cs.outcome_observed >= s.canary_min_outcomes:
            ratio = cs.calibration_ratio()
            base = active.stats.calibration_ratio() if active else None
            allowed = s.canary_max_calibration_error + (abs(base - 1.0) if base is not None else 0.0)
            if ratio is not None and abs(ratio - 1.0) > allowed:
                reason = f"calibration ratio {ratio:.3f}" + ("" if base is None else f" vs {base:.3f}")
        if reason is not None:
            slot.last_rollback = {"version": canary.version, "reason": reason, "at": self._clock()}
            log.warning("canary %s rolled back: %s", canary.label, reason)
            self._swap(slot, replace(st, canary=None, canary_percent=0.0), f"canary rollback: {reason}")

    # ------------------------------------------------------------------ shadow

    async def drain_shadow(self) -> None:
        """Wait for pending shadow runs (tests, graceful shutdown)."""
        while self._shadow_tasks:
            await asyncio.gather(*list(self._shadow_tasks), return_exceptions=True)

    def _maybe_shadow(self, request: AdRequest, plan, x: np.ndarray, scores: dict[str, np.ndarray]) -> None:
        for slot, _ in plan:
            shadow = slot.state.shadow
            target = slot.target or slot.name
            if shadow is None or target not in scores or self._rng.random() >= self.settings.shadow_sample:
                continue
            if len(self._shadow_tasks) >= self.settings.shadow_max_pending or not shadow.acquire():
                self.monitor.shadow_dropped += 1
                continue
            primary = scores[target]
            task = asyncio.create_task(self._shadow(slot.name, shadow, x, primary, request.sid))
            self._shadow_tasks.add(task)
            task.add_done_callback(self._shadow_tasks.discard)

    async def _shadow(self, name: str, shadow: LoadedModel, x: np.ndarray, primary: np.ndarray, sid: str) -> None:
        try:
            t0 = self._monotonic()
            error = None
            probs = None
            try:
                probs = await self._run(self._shadow_pool, shadow, x, self.settings.model_timeout_s * 5)
            except TimeoutError:
                error = "timeout"
            except Exception as exc:  # noqa: BLE001 - a shadow failure only gets logged
                error = "error"
                shadow_log.warning("shadow %s failed: %s", shadow.label, exc)
            shadow.stats.observe_call(self._monotonic() - t0, probs, error)
            if probs is None:
                return
            diff = np.abs(probs - primary)
            record = {"model": name, "shadow": shadow.label, "sid": sid, "n": int(probs.size),
                      "primary_mean": float(primary.mean()), "shadow_mean": float(probs.mean()),
                      "mean_abs_diff": float(diff.mean()), "max_abs_diff": float(diff.max()),
                      "primary": [round(float(v), 6) for v in primary],
                      "shadow_scores": [round(float(v), 6) for v in probs]}
            self.shadow_records.append(record)
            self.monitor.shadow_compared += 1
            shadow_log.info("shadow %s n=%d primary_mean=%.5f shadow_mean=%.5f mean_abs_diff=%.5f",
                            shadow.label, record["n"], record["primary_mean"], record["shadow_mean"],
                            record["mean_abs_diff"], extra={"shadow_record": record})
        finally:
            shadow.release()


def _run_options() -> Any:
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - onnxruntime is a hard dependency
        return None
    return ort.RunOptions()
