"""SSAI session parameters and the per-break decision as the session store keeps it
(JSON): the placed ads with their signed beacon token, so every variant, instance and
later request of a session agree on the ads and their tracking."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from beacons.tokens import TokenSigner, claims_for_ad, context_from_request
from decision.errors import InvalidRequest
from decision.pod import Creative, HlsVariant, PlacedAd, Pod, StreamHistory
from decision.request import KNOWN_PARAMS, AdRequest, parse_ad_request
from gateway.fetch import Fetcher, FetchRefused
from gateway.geo import GeoDB
from gateway.ssai_programmatic import ThirdPartyAd, trackers_json
from ssai.errors import SsaiError
from ssai.plan import CueOffsets
from ssai.session import SessionRecord

MODES = ("stitched", "interstitials")
FILL = "fill"  # the session's fill policy knobs, kept under this key of its parameters
MAX_PREROLL_S = 300.0
MAX_THRESHOLD_S = 3600.0


def _param_text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidRequest(name, "must be a finite number")
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value
    if name == "cues" and isinstance(value, list):
        return ",".join(_param_text(name, v) or "" for v in value)
    raise InvalidRequest(name, f"must be a string, number or boolean, got {type(value).__name__}")


def session_params(raw: Mapping[str, Any], *, ua: str | None, ip: str | None, fetcher: Fetcher,
                   geo: GeoDB | None = None) -> dict[str, str]:
    """Validate what a player asked for (POST body or query string) into the session's
    stored parameters: the origin, the mode and the known ad-request parameters."""
    origin = raw.get("origin")
    if not isinstance(origin, str) or not origin:
        raise InvalidRequest("origin", "required: the URL of a multivariant or media playlist")
    if len(origin) > 2048:
        raise InvalidRequest("origin", "longer than 2048 characters")
    try:
        fetcher.check_url(origin)
    except FetchRefused as exc:
        raise InvalidRequest("origin", str(exc)) from None
    except ValueError as exc:  # urlsplit: a bad port or IPv6 literal
        raise InvalidRequest("origin", f"not a URL: {exc}") from None
    mode = _param_text("mode", raw.get("mode")) or "stitched"
    if mode not in MODES:
        raise InvalidRequest("mode", f"must be one of {', '.join(MODES)}")
    params: dict[str, str] = {}
    for name, value in raw.items():
        if name in KNOWN_PARAMS and name != "origin":
            text = _param_text(name, value)
            if text is not None:
                params[name] = text
    if ua and "ua" not in params:
        params["ua"] = ua[:512]
    if ip and "ip" not in params:
        params["ip"] = ip
    if geo is not None and not {"country", "region", "dma"} & params.keys():
        found = geo(params.get("ip"))  # the viewer's place, looked up once per session
        if found is not None:
            params.update((k, v) for k, v in zip(("country", "region", "dma"), found, strict=True) if v)
    request = parse_ad_request(params)  # raises InvalidRequest naming the parameter
    cue_offsets(request)
    fill = fill_params(raw, fetcher)
    return {"origin": origin, "mode": mode, **params, **({FILL: fill} if fill else {})}


def _url(name: str, value: Any, fetcher: Fetcher) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(name, "must be the URL of an HLS playlist")
    if len(value) > 2048:
        raise InvalidRequest(name, "longer than 2048 characters")
    try:
        fetcher.check_url(value)
    except FetchRefused as exc:
        raise InvalidRequest(name, str(exc)) from None
    except ValueError as exc:
        raise InvalidRequest(name, f"not a URL: {exc}") from None
    return value


def _seconds(name: str, value: Any, low: float, high: float, *, open_low: bool = False) -> float:
    if isinstance(value, str):  # the query string of the implicit session
        try:
            value = float(value)
        except ValueError:
            raise InvalidRequest(name, "must be a number of seconds") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidRequest(name, "must be a number of seconds")
    if value < low or (open_low and value == low) or value > high:
        raise InvalidRequest(name, f"must be {'above' if open_low else 'at least'} {low:g} and at most {high:g}")
    return float(value)


def fill_params(raw: Mapping[str, Any], fetcher: Fetcher) -> dict[str, Any]:
    """The fill policy knobs of a session (see gateway/routes/ssai.py), validated."""
    out: dict[str, Any] = {}
    if raw.get("slate") is not None:
        out["slate"] = _url("slate", raw["slate"], fetcher)
    if raw.get("personalization_threshold_s") is not None:
        out["personalization_threshold_s"] = _seconds("personalization_threshold_s",
                                                      raw["personalization_threshold_s"], 0.0, MAX_THRESHOLD_S)
    if raw.get("live_preroll_s") is not None:
        out["live_preroll_s"] = _seconds("live_preroll_s", raw["live_preroll_s"], 0.0, MAX_PREROLL_S, open_low=True)
    bumpers = raw.get("bumpers")
    if bumpers is not None:
        if not isinstance(bumpers, Mapping) or not bumpers or set(bumpers) - {"start", "end"}:
            raise InvalidRequest("bumpers", 'must be an object with "start" and/or "end" playlist URLs')
        out["bumpers"] = {k: _url(f"bumpers.{k}", v, fetcher) for k, v in bumpers.items() if v is not None}
    return out


def ad_request_of(record: SessionRecord) -> AdRequest:
    params = {k: v for k, v in record.params.items() if k in KNOWN_PARAMS and k != "origin"}
    return parse_ad_request(params)


def cue_offsets(request: AdRequest) -> CueOffsets | None:
    if not (request.pre or request.post or request.cues):
        return None
    try:
        return CueOffsets(request.pre, request.cues, request.post, request.duration_s)
    except SsaiError as exc:
        raise InvalidRequest("cues", str(exc)) from None


def decision_json(pod: Pod, request: AdRequest, signer: TokenSigner, now: float,
                  third_party: Mapping[str, ThirdPartyAd] | None = None) -> dict:  # fmt: skip
    """What the session store keeps per break: the placed ads (those that can be stitched)
    with their signed beacon token, so every variant and every later request agree.
    Programmatic ads play from their resolved tag (`third_party`) and keep its trackers."""
    context = context_from_request(request, source="ssai")
    ads = []
    resolved = third_party or {}
    for ad in pod.ads:
        c = ad.creative
        tp = resolved.get(ad.imp_id) if c.vast_tag_url else None
        if tp is not None:
            c = replace(c, hls_url=tp.hls_url, hls_variants=(), duration_s=tp.duration_s or c.duration_s)
        elif not (c.hls_url or c.hls_variants):
            continue  # no HLS rendition (e.g. an unresolved programmatic tag): cannot be stitched
        token = signer.sign(claims_for_ad(ad, pod_id=pod.pod_id, start_s=now + ad.offset_s, context=context,
                                          signer=signer))
        ads.append({
            "imp_id": ad.imp_id, "sequence": ad.sequence, "line_item_id": ad.line_item_id,
            "campaign_id": ad.campaign_id, "advertiser_id": ad.advertiser_id, "price_micros": ad.price_micros,
            "tier": ad.tier, "currency": ad.currency, "offset_s": ad.offset_s,
            "exclusion_labels": list(ad.exclusion_labels), "token": token,
            "creative": {"id": c.id, "duration_s": c.duration_s, "advertiser_domain": c.advertiser_domain,
                         "iab_category": c.iab_category, "hls_url": c.hls_url,
                         "hls_variants": [{"uri": v.uri, "bandwidth": v.bandwidth,
                                           "resolution": list(v.resolution) if v.resolution else None,
                                           "codecs": v.codecs} for v in c.hls_variants]},
        })  # fmt: skip
        if tp is not None:
            ads[-1].update(trackers=trackers_json(tp), ad_serving_id=tp.ad_serving_id)
    return {"pod_id": pod.pod_id, "decided_at": now, "ads": ads}


def placed_from_json(d: Mapping[str, Any]) -> PlacedAd:
    c = d["creative"]
    creative = Creative(
        id=c["id"], duration_s=float(c["duration_s"]), advertiser_domain=c.get("advertiser_domain", ""),
        iab_category=c.get("iab_category", ""), hls_url=c.get("hls_url"),
        hls_variants=tuple(HlsVariant(v["uri"], int(v["bandwidth"]),
                                      tuple(v["resolution"]) if v.get("resolution") else None,  # type: ignore[arg-type]
                                      v.get("codecs")) for v in c.get("hls_variants", ())),
    )  # fmt: skip
    return PlacedAd(imp_id=d["imp_id"], sequence=int(d["sequence"]), line_item_id=d["line_item_id"],
                    campaign_id=d["campaign_id"], advertiser_id=d["advertiser_id"], creative=creative,
                    price_micros=int(d["price_micros"]), tier=d["tier"], currency=d.get("currency", "USD"),
                    offset_s=float(d.get("offset_s", 0.0)),
                    exclusion_labels=tuple(d.get("exclusion_labels", ())))  # fmt: skip


def with_history(history: StreamHistory, decision: Mapping[str, Any]) -> StreamHistory:
    return history.extended(placed_from_json(a) for a in decision.get("ads", ()))
