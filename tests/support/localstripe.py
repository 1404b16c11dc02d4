"""Run localstripe (the offline Stripe test-mode server) on loopback, and drive it from tests.

Command line::

    python -m tests.support.localstripe [--host 127.0.0.1] [--port 8420] [--from-scratch]
                               [--store PATH | --memory] [--webhook NAME URL SECRET]
                               [--ready-file PATH] [--exit-with-parent] [--quiet]

localstripe's own CLI binds every interface and has no host option, so this runner imports
``localstripe.server`` and serves its aiohttp app with ``aiohttp.web.run_app`` on ``--host``
(127.0.0.1 by default) instead.

The store: localstripe keeps everything in memory and pickles the whole store to one fixed file,
``/tmp/localstripe.pickle``, after every write, reloading it at start unless ``--from-scratch``.
Every localstripe started with that default shares that one file: two parallel instances
overwrite each other's data, and the one started last loads whatever the other wrote. This runner
therefore lets you choose:

* default: localstripe's own behaviour (``/tmp/localstripe.pickle``);
* ``--store PATH``: pickle to PATH instead (written atomically), e.g. ``var/localstripe.pickle``;
* ``--memory``: keep nothing on disk. Isolated from every other instance and faster, since
  localstripe otherwise re-pickles the whole, growing store on each write. The test helper
  below uses this.

Webhook endpoints live in memory only (lost on restart): register them with ``--webhook`` (may
be repeated) or with :func:`register_webhook` after each start.

Python helper (what the test suite uses)::

    from tests.support.localstripe import LocalStripe

    with LocalStripe() as ls:  # free port on 127.0.0.1, memory-only store
        client = ls.stripe_client()  # stripe.StripeClient aimed at ls.base_url
        ...
        ls.flush()  # DELETE /_config/data: empty the store between tests

``LocalStripe`` runs the server in a child process (localstripe's store is a module global, so
one process can hold only one), waits until it answers HTTP and stops it on exit. The child
also stops by itself if the process that started it dies (``--exit-with-parent``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    import stripe

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8420
#: Where localstripe itself pickles its store (hard-coded in localstripe.resources.Store).
LOCALSTRIPE_DEFAULT_STORE = Path("/tmp/localstripe.pickle")
#: A path that needs no authentication and answers 200 once the server is up.
_PROBE_PATH = "/js.stripe.com/v3/"

log = logging.getLogger("tests.support.localstripe")


# --------------------------------------------------------------------------------------------
# Server side (runs in the localstripe process)
# --------------------------------------------------------------------------------------------


def _use_store_file(path: Path | None) -> None:
    """Point localstripe's store at ``path`` (``None``: keep it in memory only).

    localstripe hard-codes its pickle file; we replace the two methods of its ``Store`` class
    that read and write it. The replacements write atomically (temp file + rename), so a server
    killed mid-write never leaves a truncated file behind, and an unreadable file is ignored
    (with a warning) instead of preventing the start.
    """
    from localstripe.resources import Store

    if path is None:

        def dump_to_disk(self: dict) -> None:
            pass

        def try_load_from_disk(self: dict) -> None:
            pass

    else:
        path = Path(path).resolve()

        def dump_to_disk(self: dict) -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

        def try_load_from_disk(self: dict) -> None:
            try:
                with path.open("rb") as f:
                    old = pickle.load(f)  # noqa: S301 - our own file, written by this runner
            except FileNotFoundError:
                return
            except Exception as exc:  # noqa: BLE001 - a corrupt store must not block the start
                log.warning("ignoring unreadable localstripe store %s: %s", path, exc)
                return
            self.clear()
            self.update(old)

    Store.dump_to_disk = dump_to_disk
    Store.try_load_from_disk = try_load_from_disk


def _write_ready_file(path: Path, base_url: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(base_url + "\n")
    os.replace(tmp, path)


def _watch_parent() -> None:
    """Interrupt this process (a clean aiohttp shutdown) once its parent process is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _format_url(host: str, port: int) -> str:
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{port}"


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    store: Path | str | None = "default",
    from_scratch: bool = False,
    webhooks: Iterable[tuple[str, str, str]] = (),
    ready_file: Path | None = None,
    access_log: bool = True,
    exit_with_parent: bool = False,
) -> None:
    """Serve localstripe on ``host:port`` until interrupted (SIGINT/SIGTERM). Blocks.

    ``store``: ``"default"`` (localstripe's /tmp/localstripe.pickle), a path, or ``None``
    (memory only). ``port=0`` picks a free port; ``ready_file`` then receives the base URL once
    the server listens. ``exit_with_parent``: stop when the process that started this one dies
    (so a killed test run leaves no server behind).
    """
    from aiohttp import web
    from localstripe import server as ls_server
    from localstripe.resources import store as ls_store
    from localstripe.webhooks import register_webhook as ls_register_webhook

    if store != "default":
        _use_store_file(None if store is None else Path(store))
    if not from_scratch:
        ls_store.try_load_from_disk()
    for name, url, secret in webhooks:
        ls_register_webhook(name, url, secret, None)

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    base_url = _format_url(host, sock.getsockname()[1])

    access_logger = logging.getLogger("aiohttp.access")  # localstripe logs webhooks there too
    if access_log:
        access_logger.setLevel(logging.DEBUG)
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_logger.addHandler(handler)
        access_logger.propagate = False

    def announce(_message: str) -> None:
        if store is None:
            store_desc = "memory only"
        elif store == "default":
            store_desc = str(LOCALSTRIPE_DEFAULT_STORE)
        else:
            store_desc = str(Path(store).resolve())
        print(f"localstripe listening on {base_url} (store: {store_desc})", flush=True)
        if ready_file is not None:
            _write_ready_file(Path(ready_file), base_url)

    if exit_with_parent:
        _watch_parent()

    ls_server.app.middlewares.insert(0, _scoped_stripe_js(web))
    web.run_app(
        ls_server.app,
        sock=sock,
        access_log=access_logger if access_log else None,
        print=announce,
        handle_signals=True,
        shutdown_timeout=3,
    )


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.localstripe",
        description="Run localstripe bound to one (loopback) address.",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s; 0: any free)"
    )
    parser.add_argument(
        "--from-scratch", action="store_true", help="do not load the stored data at start"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--store",
        type=Path,
        metavar="PATH",
        help=f"pickle the data to PATH instead of localstripe's shared {LOCALSTRIPE_DEFAULT_STORE}",
    )
    where.add_argument("--memory", action="store_true", help="keep the data in memory only")
    parser.add_argument(
        "--webhook",
        nargs=3,
        action="append",
        default=[],
        metavar=("NAME", "URL", "SECRET"),
        help="register a webhook endpoint at start (repeatable)",
    )
    parser.add_argument(
        "--ready-file", type=Path, help="write the base URL to this file once listening"
    )
    parser.add_argument("--quiet", action="store_true", help="no access log")
    parser.add_argument(
        "--exit-with-parent", action="store_true", help="stop when the parent process dies"
    )
    return parser.parse_args(argv)


def _scoped_stripe_js(web: Any) -> Any:
    """localstripe's fake Stripe.js declares `class Element` at the top level of a classic
    script, which shadows the browser's `Element` for every other script of the page (Bootstrap's
    menus then fail with "Cannot read properties of undefined (reading 'call')"). Served inside a
    block, its declarations stay its own; `Stripe` is still assigned to the page."""

    @web.middleware
    async def scoped(request: Any, handler: Any) -> Any:
        response = await handler(request)
        if request.path == "/js.stripe.com/v3/" and response.status == 200:
            response.text = "{\n" + response.text + "\n}\n"
        return response

    return scoped


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    store: Path | str | None = "default"
    if args.memory:
        store = None
    elif args.store is not None:
        store = args.store
    serve(
        args.host,
        args.port,
        store=store,
        from_scratch=args.from_scratch,
        webhooks=[tuple(w) for w in args.webhook],
        ready_file=args.ready_file,
        access_log=not args.quiet,
        exit_with_parent=args.exit_with_parent,
    )


# --------------------------------------------------------------------------------------------
# Client side helpers (any process)
# --------------------------------------------------------------------------------------------


def _request(
    base_url: str, method: str, path: str, data: dict[str, Any] | None = None, timeout: float = 5
) -> int:
    url = base_url.rstrip("/") + path
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - scheme checked
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - scheme checked
        resp.read()
        return resp.status


def is_up(base_url: str, timeout: float = 1) -> bool:
    """True if a localstripe answers HTTP at ``base_url``."""
    try:
        return _request(base_url, "GET", _PROBE_PATH, timeout=timeout) == 200
    except (OSError, urllib.error.URLError):
        return False


def wait_until_up(base_url: str, timeout: float = 20) -> None:
    """Block until localstripe answers at ``base_url``; ``TimeoutError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not is_up(base_url):
        if time.monotonic() > deadline:
            raise TimeoutError(f"localstripe did not answer at {base_url} within {timeout} s")
        time.sleep(0.05)


def flush(base_url: str, timeout: float = 10) -> None:
    """Empty the server's store (``DELETE /_config/data``). Webhook endpoints are kept."""
    _request(base_url, "DELETE", "/_config/data", timeout=timeout)


def register_webhook(
    base_url: str,
    name: str,
    url: str,
    secret: str,
    events: Iterable[str] | None = None,
    timeout: float = 5,
) -> None:
    """Register (or replace) webhook endpoint ``name`` (``POST /_config/webhooks/{name}``).

    ``secret`` must start with ``whsec_``-style text of your choice; localstripe signs each
    delivery with it (``Stripe-Signature``, verifiable with ``stripe.Webhook.construct_event``).
    """
    data: dict[str, Any] = {"url": url, "secret": secret}
    if events is not None:
        data["events[]"] = list(events)
    _request(base_url, "POST", f"/_config/webhooks/{urllib.parse.quote(name)}", data, timeout)


def stripe_client(base_url: str, api_key: str = "sk_test_localstripe") -> stripe.StripeClient:
    """A ``stripe.StripeClient`` talking to localstripe at ``base_url`` (no retries)."""
    import stripe

    return stripe.StripeClient(api_key, base_addresses={"api": base_url}, max_network_retries=0)


class LocalStripe:
    """A localstripe server in a child process, on loopback; a context manager.

    ``port=0`` (default) takes a free port; ``store=None`` (default) keeps the data in memory
    only, so instances never share data; pass a path to persist it, or ``"default"`` for
    localstripe's shared /tmp/localstripe.pickle. Output goes to ``log_path`` (default: a
    temporary file, kept in ``self.log_path`` and shown in start errors).
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        store: Path | str | None = None,
        from_scratch: bool = True,
        webhooks: Iterable[tuple[str, str, str]] = (),
        log_path: Path | str | None = None,
        start_timeout: float = 20,
        python: str = sys.executable,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.store = store
        self.from_scratch = from_scratch
        self.webhooks = list(webhooks)
        self.log_path = Path(log_path) if log_path else None
        self.start_timeout = start_timeout
        self.python = python
        self.base_url: str = ""
        self.port: int = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LocalStripe:
        if self.process is not None:
            raise RuntimeError("already started")
        self._tmpdir = tempfile.TemporaryDirectory(prefix="vpos-localstripe-")
        tmp = Path(self._tmpdir.name)
        ready_file = tmp / "ready"
        if self.log_path is None:
            self.log_path = tmp / "localstripe.log"
        cmd = [
            self.python,
            "-m",
            "tests.support.localstripe",
            "--host",
            self.host,
            "--port",
            str(self.requested_port),
            "--ready-file",
            str(ready_file),
            "--exit-with-parent",
        ]
        if self.store is None:
            cmd.append("--memory")
        elif self.store != "default":
            cmd += ["--store", str(self.store)]
        if self.from_scratch:
            cmd.append("--from-scratch")
        for name, url, secret in self.webhooks:
            cmd += ["--webhook", name, url, secret]

        # Run from the project's root (holding the tests package), so `-m tests.support.localstripe`
        # resolves.
        project_root = Path(__file__).resolve().parents[2]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(project_root), env.get("PYTHONPATH", "")) if p
        )
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=project_root,
                env=env,
                start_new_session=True,  # our Ctrl-C is not its Ctrl-C; we stop it ourselves
            )
        try:
            deadline = time.monotonic() + self.start_timeout
            while not ready_file.exists():
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"localstripe exited with {self.process.returncode}:\n{self.log()}"
                    )
                if time.monotonic() > deadline:
                    raise TimeoutError(f"localstripe did not start:\n{self.log()}")
                time.sleep(0.05)
            self.base_url = ready_file.read_text().strip()
            self.port = urllib.parse.urlsplit(self.base_url).port or 0
            wait_until_up(self.base_url, max(1.0, deadline - time.monotonic()))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)  # aiohttp shuts down cleanly on SIGINT
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._tmpdir is not None and self.log_path is not None:
            # Keep a caller-provided log; the temporary one goes with its directory.
            if Path(self._tmpdir.name) in self.log_path.parents:
                self._last_log = self.log()
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> LocalStripe:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- conveniences ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def js_url(self) -> str:
        """Where localstripe serves its fake Stripe.js (the trailing slash is required)."""
        return self.base_url + _PROBE_PATH

    def log(self) -> str:
        """What the server printed so far (its access log)."""
        if self.log_path is not None and self.log_path.exists():
            return self.log_path.read_text(errors="replace")
        return getattr(self, "_last_log", "")

    def flush(self) -> None:
        flush(self.base_url)

    def register_webhook(
        self, name: str, url: str, secret: str, events: Iterable[str] | None = None
    ) -> None:
        register_webhook(self.base_url, name, url, secret, events)

    def stripe_client(self, api_key: str = "sk_test_localstripe") -> stripe.StripeClient:
        return stripe_client(self.base_url, api_key)

    def __repr__(self) -> str:
        return f"<LocalStripe {self.base_url or 'not started'} pid={self.pid}>"


def start(port: int = 0, host: str = DEFAULT_HOST, **kwargs: Any) -> tuple[str, LocalStripe]:
    """Start a :class:`LocalStripe`; return ``(base_url, server)``; call ``server.stop()``."""
    server = LocalStripe(host, port, **kwargs).start()
    return server.base_url, server


if __name__ == "__main__":
    main()
