"""A seeded beacon workload: unique valid beacons, duplicates of them and invalid ones
(forged, tampered, expired, unknown event, bad code, bad offset), shuffled, with the
counts a correct pipeline must end with."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from beacons.events import event_id
from beacons.tokens import KeyRing, TokenSigner
from beacons.validate import RawBeacon
from tests.beacons.helpers import PRICE, claims

EVENTS = ("impression", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete")


@dataclass
class Workload:
    raws: list[RawBeacon]
    unique_ids: set[str]
    invalid: int
    line_items: tuple[str, ...]
    per_line_item_event: Counter = field(default_factory=Counter)

    def spend(self, li: str) -> int:
        return self.per_line_item_event[(li, "impression")] * (PRICE // 1000)

    def to_json(self) -> list[dict]:
        return [{"event": r.event, "token": r.token, "ts": r.ts, "code": r.code, "off": r.off, "ua": r.ua,
                 "ip": r.ip} for r in self.raws]


def build(signer: TokenSigner, total: int = 20_000, dup_share: float = 0.10, invalid_share: float = 0.02,
          seed: int = 7) -> Workload:
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    line_items = tuple(f"li-{run}-{k}" for k in range(4))
    n_invalid = int(total * invalid_share)
    n_dup = int(total * dup_share)
    n_unique = total - n_invalid - n_dup
    now = time.time()
    forger = TokenSigner(KeyRing.parse("k2:attacker-secret-0123456789"))

    unique: list[RawBeacon] = []
    ids: set[str] = set()
    counts: Counter = Counter()
    imp = 0
    while len(unique) < n_unique:
        c = claims(imp, now=now, imp_id=f"imp-{run}-{imp}", line_item_id=line_items[imp % 4],
                   session_id=f"s-{run}-{imp // 3}")
        token = signer.sign(c)
        for ev in EVENTS[:rng.randint(1, len(EVENTS))]:
            if len(unique) == n_unique:
                break
            ip = f"198.51.{imp % 200}.{imp % 250 + 1}"
            ts = rng.choice(["[TIMESTAMP]", str(int(now * 1000)), "%5BTIMESTAMP%5D", "-1"])
            unique.append(RawBeacon(event=ev, token=token, ts=ts, ip=ip, ua="Roku/DVP-12.0"))
            ids.add(event_id(c.imp_id, ev))
            counts[(c.line_item_id, ev)] += 1
        imp += 1
    dups = [rng.choice(unique) for _ in range(n_dup)]
    invalid: list[RawBeacon] = []
    for k in range(n_invalid):
        c = claims(10**6 + k, now=now, imp_id=f"imp-{run}-bad-{k}", line_item_id=line_items[k % 4])
        good = signer.sign(c)
        kind = k % 6
        if kind == 0:
            raw = RawBeacon(event="impression", token=forger.sign(c))
        elif kind == 1:
            raw = RawBeacon(event="impression", token=good[:-3] + ("xyz" if good[-3:] != "xyz" else "abc"))
        elif kind == 2:
            raw = RawBeacon(event="impression", token=signer.sign(claims(10**6 + k, now=now - 90_000,
                                                                          imp_id=f"imp-{run}-exp-{k}",
                                                                          expires_at=int(now - 86_400))))
        elif kind == 3:
            raw = RawBeacon(event="impresion", token=good)
        elif kind == 4:
            raw = RawBeacon(event="error", token=good, code="E42")
        else:
            raw = RawBeacon(event="progress", token=good, off="later")
        invalid.append(RawBeacon(event=raw.event, token=raw.token, code=raw.code, off=raw.off,
                                 ip=f"192.0.2.{k % 250 + 1}", ua="Roku/DVP-12.0"))
    raws = unique + dups + invalid
    rng.shuffle(raws)
    return Workload(raws, ids, n_invalid, line_items, counts)
