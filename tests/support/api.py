"""The REST API and outbound webhooks in tests: an API client, a shop with keys, a receiver."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from integrations.models import ApiKey
from merchants.models import Merchant


class ApiClient(Client):
    """A Django test client that sends an API key and JSON bodies."""

    def __init__(self, key: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if key:
            self.defaults["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        self.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"

    def post_json(self, path: str, body: Any = None, **headers: Any) -> Any:
        data = body if isinstance(body, bytes | str) else json.dumps({} if body is None else body)
        return self.post(path, data=data, content_type="application/json", headers=headers)


@dataclass
class Tenant:
    merchant: Merchant
    key: ApiKey
    raw: str

    def client(self) -> ApiClient:
        return ApiClient(self.raw)


LINK = {
    "amount": 2500,
    "currency": "EUR",
    "description": "Order 1001",
    "reference": "1001",
    "customer_email": "anna@example.com",
    "success_url": "https://shop.example.com/thanks",
    "cancel_url": "https://shop.example.com/cart",
    "metadata": {"order_id": "1001"},
}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers the next requests as scripted ("500", "timeout", "redirect"), then 200."""

    url: str = ""
    script: list[str] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    seen: int = 0


def verify(secret: str, header: str, body: bytes) -> bool:
    """What docs/webhooks.md tells integrators to do."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that keeps the test output clean."""

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def loopback_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free port of 127.0.0.1, in threads; yield the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
