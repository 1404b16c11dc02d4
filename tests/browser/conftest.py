"""Headless Chromium through Playwright, against pytest-django's live server and localstripe.

Debian's /usr/bin/chromium is used (`apt-get install chromium`): `playwright install` cannot
download browsers on these machines. Playwright's sync API runs an event loop in the test's
thread, so the Django ORM needs DJANGO_ALLOW_ASYNC_UNSAFE there: set for browser tests only,
never for the whole session (subprocesses such as `manage.py check --deploy` would inherit it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.support.browser import TIMEOUT_MS

CHROMIUM = os.environ.get("VPOS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="package", autouse=True)
def _allow_orm_beside_playwright() -> Iterator[None]:
    # Package scope: also covers the database teardown of each test, which runs while
    # Playwright's loop is still alive.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="package")
def browser(_allow_orm_beside_playwright) -> Iterator:
    """One Chromium for the browser tests; stopped with them, so that Playwright's event loop
    does not outlive this package (the ORM refuses to run beside a running loop)."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Open a page in a fresh browser context (own cookies): one per person in the test."""
    contexts = []

    def make(*, locale: str = "en-US", viewport: dict | None = None):
        context = browser.new_context(
            locale=locale, viewport=viewport or {"width": 1280, "height": 900}
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.errors = []  # uncaught page errors: a test can assert there were none
        page.on("pageerror", lambda error: page.errors.append(error))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def signed_in_page(new_page, live_server):
    """A page whose browser is signed in as `user`: the session Django's test client makes, as
    its cookie. Keyword arguments go to `new_page` (locale, viewport)."""
    from django.conf import settings
    from django.test import Client

    def make(user, **kwargs):
        client = Client()
        client.force_login(user)
        page = new_page(**kwargs)
        page.context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        return page

    return make
