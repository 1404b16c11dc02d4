"""The localstripe runner (tests.support.localstripe): loopback only, and the Stripe SDK works against it.

Needs no database. Starts its own server (memory-only store, free port) so it does not depend on
any session fixture.
"""

import os
import socket

import pytest
import stripe

from tests.support.localstripe import LocalStripe, flush, is_up


@pytest.fixture(scope="module")
def ls_server():
    """A server of its own (not the session's `localstripe`), to test start and stop."""
    with LocalStripe() as server:
        yield server


def test_card_4242_payment_intent_succeeds(ls_server):
    client = ls_server.stripe_client()
    pm = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    pi = client.v1.payment_intents.create(
        params={
            "amount": 1999,
            "currency": "eur",
            "payment_method": pm.id,
            "payment_method_types": ["card"],
            "confirm": True,
            "metadata": {"test": "runner"},
        }
    )
    assert pi.status == "succeeded"

    again = client.v1.payment_intents.retrieve(pi.id)
    assert again.id == pi.id
    assert again.status == "succeeded"
    assert again.amount == 1999
    assert again.currency == "eur"


def test_flush_empties_the_store(ls_server):
    client = ls_server.stripe_client()
    customer = client.v1.customers.create(params={"email": "flush@example.com"})
    flush(ls_server.base_url)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(customer.id)


def test_bound_to_loopback_only(ls_server):
    assert ls_server.base_url.startswith("http://127.0.0.1:")
    port = ls_server.port
    assert port > 0
    assert is_up(ls_server.base_url)
    # One listening socket, on 127.0.0.1: nothing on the wildcard or any other local address.
    assert _listeners(ls_server.pid, port) == {("127.0.0.1", port)}


def test_stop_ends_the_process():
    server = LocalStripe().start()
    proc = server.process
    base_url = server.base_url
    server.stop()
    assert proc.poll() is not None
    assert not is_up(base_url)


def _listeners(pid, port):
    """(address, port) pairs that process `pid` listens on for TCP `port`, from /proc."""
    if not _has_proc_net():
        pytest.skip("needs Linux /proc/net/tcp")
    inodes = _socket_inodes(pid)
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            if int(port_hex, 16) != port:
                continue
            found.add((_decode_addr(addr_hex, family), port))
    return found


def _has_proc_net():
    try:
        open("/proc/net/tcp").close()
    except OSError:
        return False
    return True


def _socket_inodes(pid):
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _decode_addr(addr_hex, family):
    raw = bytes.fromhex(addr_hex)
    # /proc stores the address as host-order 32-bit words.
    raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, raw)
