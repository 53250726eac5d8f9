"""One real `adgw serve` (with a private Redis for the sessions) shared by the SSAI
end-to-end tests, and small HTTP helpers that never follow redirects."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.services import Service, start_gateway

HLS = "application/vnd.apple.mpegurl"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self):
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Gateway:
    base: str
    service: Service

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def get(self, path: str, timeout: float = 10.0) -> Answer:
        return self._send(urllib.request.Request(self.url(path)), timeout)

    def post(self, path: str, body: bytes | dict | list, timeout: float = 10.0) -> Answer:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(self.url(path), data=data, method="POST",
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        return self._send(request, timeout)

    @staticmethod
    def _send(request: urllib.request.Request, timeout: float) -> Answer:
        try:
            with _OPENER.open(request, timeout=timeout) as resp:
                return Answer(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return Answer(err.code, dict(err.headers), err.read())

    def session(self, origin: str = "/demo/vod/master.m3u8", **params) -> dict:
        answer = self.post("/v1/sessions", {"origin": self.url(origin), "sid": params.pop("sid", "e2e-device"), **params})
        assert answer.status == 201, answer.text
        return answer.json()


@pytest.fixture(scope="session")
def gateway(redis_url: str, tmp_path_factory) -> Iterator[Gateway]:
    svc = start_gateway({"ADGW_REDIS_URL": redis_url, "ADGW_SPOOL_DIR": str(tmp_path_factory.mktemp("spool")),
                         "ADGW_BEACON_KEYS": "e2e:0123456789abcdef0123456789abcdef"})  # fmt: skip
    try:
        yield Gateway(f"http://127.0.0.1:{svc.port}", svc)
    finally:
        svc.stop()


def media_url(session: dict, n: int) -> str:
    return session["manifest_url"].replace("/master.m3u8", f"/media/{n}.m3u8")
