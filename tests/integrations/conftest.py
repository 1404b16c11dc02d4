"""API test helpers: keys for three shops, clients that send them, a webhook receiver on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from integrations.api_keys import api_key_create
from integrations.models import ApiKey
from merchants.models import Merchant, Role
from tests.support.api import ApiClient, QuietHandler, Received, Receiver, Tenant, loopback_server
from tests.support.factories import MembershipFactory, MerchantFactory


@pytest.fixture
def make_key(db) -> Callable[..., tuple[ApiKey, str]]:
    def make(merchant: Merchant, scope: str = ApiKey.Scope.READ_WRITE, name: str = "Shop site"):
        return api_key_create(merchant=merchant, name=name, scope=scope, actor=None)

    return make


@pytest.fixture
def tenants(shop, make_key) -> list[Tenant]:
    """Three shops, each with a read and write key: shop.merchant first, then two others."""
    third = MerchantFactory(name="Bottega Tre")
    MembershipFactory(merchant=third, role=Role.OWNER)
    merchants = [shop.merchant, shop.outsider.merchant, third]
    return [Tenant(m, *make_key(m)) for m in merchants]


@pytest.fixture
def api(tenants) -> ApiClient:
    return tenants[0].client()


# --- A receiving web server on 127.0.0.1 ----------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.seen += 1
            step = state.script.pop(0) if state.script else "ok"
            if step == "timeout":
                time.sleep(1.5)
                return
            if step == "redirect":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.end_headers()
                return
            if step == "500":
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b"boom")
                return
            state.accepted.append(Received(dict(self.headers.items()), body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

    with loopback_server(Handler) as base:
        state.url = f"{base}/hooks/vpos"
        yield state
