"""Carrying a Wrapper's trackers onto the InLine ad it led to.

VAST 4.2 §2.4.3.3: a player (or a server resolving for it) fires the Impression, Error,
tracking and click-tracking URLs of every Wrapper in the chain along with the InLine's.
Resolving server-side therefore merges them into the final ad. Wrapper trackers come
first, outermost wrapper first, the order in which the chain was followed.
"""

from __future__ import annotations

from dataclasses import replace

from .model import Ad, Creative, InLine, Linear, Wrapper


def merge_wrapper(ad: Ad, wrapper: Wrapper) -> Ad:
    """`ad` (an InLine) with `wrapper`'s trackers added. Linear tracking and clicks of the
    wrapper's linear creatives go to every linear creative of the ad."""
    body = ad.body
    if not isinstance(body, InLine):
        raise TypeError("merge_wrapper expects an InLine ad")
    linear_parts = [c.linear for c in wrapper.creatives if c.linear is not None]
    creatives = body.creatives
    if linear_parts:
        creatives = tuple(_merge_creative(c, linear_parts) for c in creatives)
    merged = replace(
        body,
        impressions=wrapper.impressions + body.impressions,
        errors=wrapper.errors + body.errors,
        verifications=wrapper.verifications + body.verifications,
        creatives=creatives,
    )
    return replace(ad, body=merged)


def _merge_creative(c: Creative, wrapper_linears: list[Linear]) -> Creative:
    lin = c.linear
    if lin is None:
        return c
    tracking = tuple(t for w in wrapper_linears for t in w.tracking) + lin.tracking
    clicks = tuple(k for w in wrapper_linears for k in w.click_tracking) + lin.click_tracking
    custom = tuple(k for w in wrapper_linears for k in w.custom_clicks) + lin.custom_clicks
    return replace(c, linear=replace(lin, tracking=tracking, click_tracking=clicks,
                                     custom_clicks=custom))
