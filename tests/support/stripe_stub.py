"""A stub of Stripe's API on loopback, for real-Stripe mode (the Payment Element) in tests.

localstripe has no Payment Element and refuses return_url and mandate_data: to see what vpos
sends Stripe in real mode, `StripeStub` records every request and answers canned PaymentIntents.
The payment method's id says how the confirmation goes (`OUTCOMES`); `settle` changes a
PaymentIntent afterwards (what the bank did while the customer was away).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.support.api import QuietHandler, loopback_server

# pm id -> (its type, the PaymentIntent's status after confirmation)
OUTCOMES = {
    "pm_card_ok": ("card", "succeeded"),
    "pm_card_declined": ("card", "requires_payment_method"),
    "pm_card_3ds": ("card", "requires_action"),
    "pm_paypal_redirect": ("paypal", "requires_action"),
    "pm_sepa_ok": ("sepa_debit", "processing"),
}
DECLINE = {
    "type": "card_error",
    "code": "card_declined",
    "decline_code": "insufficient_funds",
    "message": "Your card has insufficient funds.",
}


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]  # Stripe's form encoding, flat: "payment_method_types[0]" -> "card"


@dataclass
class StripeStub:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    domain_answer: int = 200  # what POST /v1/payment_method_domains answers
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def sent(self, method: str, path_end: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.endswith(path_end)]

    def creates(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/payment_intents"]

    def confirms(self) -> list[Request]:
        return self.sent("POST", "/confirm")

    def settle(self, intent_id: str, status: str) -> None:
        with self.lock:
            self.intents[intent_id]["status"] = status
            self.intents[intent_id]["next_action"] = None

    # -- answers ------------------------------------------------------------------------------
    def answer(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict]:
        with self.lock:
            self.requests.append(Request(method, path, params))
            parts = path.strip("/").split("/")  # v1, resource, id, action
            if parts[1:] == ["payment_method_domains"] and method == "POST":
                if self.domain_answer != 200:
                    return self.domain_answer, _error("Unrecognized request URL.")
                return 200, {"id": "pmd_1", "object": "payment_method_domain", "enabled": True}
            if parts[1] != "payment_intents":
                return 404, _error("Unrecognized request URL.")
            if len(parts) == 2 and method == "GET":
                return 200, {"object": "list", "data": [], "has_more": False}
            if len(parts) == 2:
                return 200, self._create(params)
            intent = self.intents.get(parts[2])
            if intent is None:
                return 404, _error("No such payment_intent.")
            if len(parts) == 4 and parts[3] == "confirm":
                self._confirm(intent, params)
            elif len(parts) == 4 and parts[3] == "cancel":
                intent["status"] = "canceled"
            return 200, self._shown(intent, params)

    def _create(self, params: dict[str, str]) -> dict:
        number = next(self.ids)
        intent_id = f"pi_stub{number}"
        types = [v for k, v in sorted(params.items()) if k.startswith("payment_method_types[")]
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "status": "requires_confirmation",
            "client_secret": f"{intent_id}_secret_stub",
            "payment_method": params.get("payment_method"),
            "payment_method_types": types or ["card", "paypal", "sepa_debit"],
            "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")},
            "created": 1_700_000_000 + number,
            "last_payment_error": None,
            "next_action": None,
            "latest_charge": None,
        }
        self.intents[intent_id] = intent
        return intent

    def _confirm(self, intent: dict, params: dict[str, str]) -> None:
        _type, status = OUTCOMES.get(intent["payment_method"], ("card", "succeeded"))
        intent["status"] = status
        if status == "requires_payment_method":
            intent["last_payment_error"] = DECLINE
        if status == "requires_action":
            target = params.get("return_url", "")
            intent["next_action"] = {
                "type": "redirect_to_url",
                "redirect_to_url": {"url": "https://bank.example/auth", "return_url": target},
            }

    def _shown(self, intent: dict, params: dict[str, str]) -> dict:
        shown = dict(intent)
        if any(v == "payment_method" for k, v in params.items() if k.startswith("expand[")):
            method_type, _status = OUTCOMES.get(intent["payment_method"], ("card", ""))
            method = {"id": intent["payment_method"], "type": method_type}
            if method_type == "card":
                method["card"] = {"brand": "visa", "last4": "4242"}
            shown["payment_method"] = method
        return shown


def _error(message: str) -> dict:
    return {"error": {"type": "invalid_request_error", "message": message}}


@contextlib.contextmanager
def stripe_stub_server() -> Iterator[StripeStub]:
    stub = StripeStub()

    class Handler(QuietHandler):
        def _reply(self, method: str) -> None:
            address = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            params = dict(urllib.parse.parse_qsl(body or address.query, keep_blank_values=True))
            status, answer = stub.answer(method, address.path, params)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

    with loopback_server(Handler) as url:
        stub.url = url
        yield stub
