"""The schemas themselves: valid JSON Schema, and they refuse what the contract forbids."""

import copy
import time

from jsonschema import Draft202012Validator

from beacons.events import build_event, event_id, load_schema
from beacons.validate import BeaconFields
from tests.beacons.helpers import EVENT_VALIDATOR, check_events, claims, signer


def sample() -> dict:
    s = signer()
    c = s.verify(s.sign(claims(1)))
    fields = BeaconFields("error", "t", int(time.time() * 1000), 402, None, None, "Roku")
    return build_event(c, fields, event_id_=event_id(c.imp_id, "error"), received_ms=int(time.time() * 1000),
                       ip_trunc="203.0.113.0", ua_family="roku", ifa_hash="0" * 32, flags=["bot_ua"],
                       dedup="checked", gateway="gw-1")


def test_schemas_are_valid_json_schema():
    for name in ("ad_event", "ad_event_invalid"):
        Draft202012Validator.check_schema(load_schema(name))


def test_sample_event_is_valid_and_mutations_are_not():
    event = sample()
    check_events([event])
    for path, value in [(("schema",), "ad_event/2"), (("event",), "view"), (("event_id",), "abc"),
                        (("price_micros",), -1), (("device", "ifa_hash"), "6D92078A-8246-4BA4-AE5B-76104861E7DC"),
                        (("device", "raw_ip"), "203.0.113.7"), (("flags",), ["made_up"]), (("source",), "x")]:
        bad = copy.deepcopy(event)
        target = bad
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert not EVENT_VALIDATOR.is_valid(bad), path
    for key in event:
        bad = copy.deepcopy(event)
        del bad[key]
        assert not EVENT_VALIDATOR.is_valid(bad), key
