"""Serve the dashboards to managers: Voila over ``dashboards/``, offline and locked down.

``serve()`` runs Voila (0.5.13) with:

- **one page per notebook**: ``/`` redirects to ``/voila/render/index.ipynb`` when the folder has
  an ``index.ipynb`` (the landing page), else lists the pages; each page is
  ``/voila/render/<page>.ipynb``.
- **a safe bind**: 127.0.0.1 unless a token is given (``check_bind``). The token comes from a
  file (``--token-file``), ``$CRMKIT_TOKEN`` or ``--token`` (which every user of the machine can
  read in ``ps``). With a token, a visit needs ``?token=…`` once: the answer sets the login
  cookie (jupyter-server's identity provider) and redirects to the same address without the
  token, so it leaves the address bar, the history and the page's kernel. Every route needs the
  cookie, the kernels' websockets and ``/voila/query/`` (``--preheat``) included
  (``access.QueryHandler``). No log line shows a token (``access.redact``), no kernel
  inherits it.
- **nothing from the internet**: the ``crmkit`` template (``crmkit/templates/``) drops the CDN
  links of Voila's ``lab`` template; widget code is served from the installed lab extensions.
- **no source, no files, no tracebacks**: cell sources stripped, ``/voila/files/`` serves nothing,
  errors reach the page as one short bilingual line and the traceback only the server log; so
  do errors after the page is shown (a widget callback, a malformed widget message) and anything
  a kernel writes to stderr (``kernels.QuietKernelConnection``).
- **bounded kernels** (``kernels.CappedKernelManager``): at most ``max_kernels`` pages at
  once, by default what this machine's memory holds (``default_max_kernels``: 20 on 24 GB);
  beyond it a page gets a bilingual "busy" page (HTTP 503) that asks again by itself every
  ~10 s. A page's kernel is shut down ``disconnect_grace_seconds`` (30) after its last websocket
  closed (a closed tab, a browser gone: no unload beacon needed; a silent connection is closed
  once it stops answering pings, within 25 s); a kernel no page connected to is culled after
  ``cull_idle_seconds`` idle; a page that is still connected is never culled.
- **the published snapshot**: kernels find it in ``$CRMKIT_PUBLISHED`` (absolute path) and the
  role in ``$CRMKIT_ROLE``: ``dashboard`` pages read that file, whose personal data publish
  stored masked; ``analyst`` pages the clear analyst snapshot beside it
  (``crmkit.db.analyst_path``).

Examples
--------
>>> check_bind("127.0.0.1", None)
>>> check_bind("0.0.0.0", "s3cret")
's3cret'
>>> cfg = voila_config(Path("dashboards"), max_kernels=4)
>>> cfg.VoilaConfiguration.template, cfg.CappedKernelManager.max_kernels
('crmkit', 4)

From the shell: ``python -m crmkit.serve --no-browser`` (the ``crmkit serve`` command takes the
same options, see ``add_arguments``).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import plotly
import tornado.ioloop
import tornado.web
from jupyter_core.utils import ensure_async
from jupyter_server.utils import url_path_join
from traitlets.config import Config
from voila.app import Voila
from voila.request_info_handler import RequestInfoSocketHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.treehandler import TornadoVoilaTreeHandler

from crmkit import db, i18n
from crmkit.privacy import ROLES, check_role
from crmkit.serve.access import (
    QueryHandler,
    RedactTokens,
    TokenToCookie,
    log_request,
    read_token_file,
    redact,
    token_file_warning,
)
from crmkit.serve.kernels import (
    DISCONNECT_GRACE_SECONDS,
    KERNEL_MIB,
    WS_PING_MS,
    WS_PING_TIMEOUT_MS,
    CappedKernelManager,
    KernelLimitReached,
    QuietKernelConnection,
    default_max_kernels,
    memory_mib,
)

__all__ = [
    "KERNEL_MIB",
    "CappedKernelManager",
    "CrmkitVoila",
    "KernelLimitReached",
    "QuietKernelConnection",
    "add_arguments",
    "check_bind",
    "default_max_kernels",
    "main",
    "memory_mib",
    "read_token_file",
    "redact",
    "serve",
    "serve_args",
    "server_environment",
    "server_url",
    "voila_config",
]

EXIT_OK, EXIT_FAILED = 0, 2

TEMPLATE = "crmkit"
#: A Jupyter data directory holding the template (see crmkit/templates/README.md).
TEMPLATE_ROOT = Path(__file__).parent.parent / "templates"
LANDING_PAGE = "index.ipynb"
#: About how long a "busy" page waits before it asks again (it varies the wait by ±50 %).
RETRY_AFTER_SECONDS = 10
#: Where the page fetches plotly's FigureWidget bundle; one file, public code, no data.
PLOTLY_BUNDLE = Path(plotly.__file__).parent / "package_data" / "widgetbundle.js"
WIDGET_BUNDLE_ROUTE = r"crmkit/static/(widgetbundle\.js)"
WIDGET_BUNDLE_PATH = "crmkit/static/widgetbundle.js"
BUSY_TEXT = {lang: i18n.t("server_busy", lang) for lang in i18n.LANGS}


#: Nothing under the served folder is downloadable: /voila/files/ answers 403 for every path.
#: Markdown images are inlined into the page, so no page needs the route.
FILE_ALLOWLIST: list[str] = []
#: Kept in case the allow-list is ever widened: data, code and hidden files stay refused.
FILE_DENYLIST = [
    r"(.*/)?\..*",
    r".*\.(duckdb|wal|db|sqlite|csv|tsv|txt|xlsx?|parquet|json|ipynb|py|log)",
]


# ---------------------------------------------------------------------------------- handlers


class _PageHandler(TokenToCookie, TornadoVoilaHandler):
    """``/voila/render/<page>``: Voila's page, or HTTP 503 "busy" when no kernel slot is free."""

    @tornado.web.authenticated
    async def get(self, path=None):
        # Reading xsrf_token sets the _xsrf cookie. The page's beforeunload beacon must send it
        # to /voila/api/shutdown, or closing a tab leaves its kernel running until reclaimed
        # (voila 0.5.13 renders pages without ever setting it).
        self.xsrf_token  # noqa: B018
        try:
            km = self.kernel_manager
            if isinstance(km, CappedKernelManager) and getattr(km, "_pools", None) and km.full():
                # a pre-heated kernel is handed over without start_kernel: check the cap here
                raise KernelLimitReached(f"{km.pages_open()} pages open")
            await super().get(path)
        except KernelLimitReached:
            # Voila starts the kernel before it writes the first byte, so the answer is clean.
            self.clear()
            self.set_status(503)
            self.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            self.set_header("Cache-Control", "no-store")
            self.finish(self.render_template("busy.html", retry_after=RETRY_AFTER_SECONDS))


class _TreeHandler(TokenToCookie, TornadoVoilaTreeHandler):
    """``/voila/tree``: Voila's page list."""


class _LandingHandler(_TreeHandler):
    """``/``: the landing page ``index.ipynb`` when there is one, else Voila's page list."""

    @tornado.web.authenticated
    async def get(self, path=""):
        if await ensure_async(self.contents_manager.file_exists(LANDING_PAGE)):
            url = url_path_join(self.base_url, "voila/render", LANDING_PAGE)
            self.redirect(f"{url}?{self.request.query}" if self.request.query else url)
            return
        await super().get(path)


def _handlers_of(logger: logging.Logger) -> list[logging.Handler]:
    """The handlers a record logged on ``logger`` reaches."""
    found: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        found.extend(current.handlers)
        current = current.parent if current.propagate else None
    return found


#: A path that climbs out of its folder, plain or percent-encoded (``../``, ``..%2f``,
#: ``%2e%2e/``). Voila's template-file handler answers some with an assertion error (HTTP 500
#: and a traceback in the log); none may reach any handler.
PARENT_PATH = r"(?i)(?:.*/)?(?:\.\.|%2e%2e|\.%2e|%2e\.)(?:/|%2f|%5c).*"


class _ParentPath(tornado.web.RequestHandler):
    """404 for every :data:`PARENT_PATH`, before any other handler sees it."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(404)


class CrmkitVoila(Voila):
    """Voila with crmkit's landing page, busy page, authenticated query socket, token-free logs
    and ready message."""

    def init_handlers(self) -> list:
        replace = {
            TornadoVoilaHandler: _PageHandler,
            TornadoVoilaTreeHandler: _TreeHandler,
            RequestInfoSocketHandler: QueryHandler,
        }
        handlers: list = [(PARENT_PATH, _ParentPath)]
        for pattern, handler, *rest in super().init_handlers():
            if handler is TornadoVoilaTreeHandler and pattern == self.server_url:
                handler = _LandingHandler
            handlers.append((pattern, replace.get(handler, handler), *rest))
        # plotly's widget bundle (5 MB), fetched once and cached by the browser instead of
        # travelling inside every FigureWidget's state (see crmkit.charts.FigureWidget)
        handlers.append(
            (
                url_path_join(self.base_url, WIDGET_BUNDLE_ROUTE),
                tornado.web.StaticFileHandler,
                {"path": str(PLOTLY_BUNDLE.parent)},
            )
        )
        return handlers

    def start(self):
        # tornado's loggers (access lines, request errors) write through the server's log, as
        # in jupyter-server, and every line of it passes the redaction
        tornado_log = logging.getLogger("tornado")
        tornado_log.parent, tornado_log.propagate = self.log, True
        tornado_log.setLevel(self.log.level)
        for handler in _handlers_of(self.log):
            handler.addFilter(RedactTokens(self.token or None))
        # Runs once the IO loop turns, i.e. after Voila is listening.
        tornado.ioloop.IOLoop.current().add_callback(self._announce)
        super().start()

    def _announce(self):
        url = server_url(self.ip, self.port, token=bool(self.identity_provider.token))
        pages = self.config.CappedKernelManager.max_kernels
        print(f"crmkit dashboards: {url} (at most {pages} pages open at once)", flush=True)


def server_url(host: str, port: int, *, token: bool = False) -> str:
    """The address to give managers, e.g. ``http://127.0.0.1:8866/?token=…``: with a token, the
    admin puts it in place of ``…`` (it is never printed).

    >>> server_url("::1", 8866, token=True)
    'http://[::1]:8866/?token=…'
    """
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/" + ("?token=…" if token else "")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        # A host name other than localhost may resolve to any interface.
        return False


def check_bind(host: str, token: str | None) -> str | None:
    """Refuse to listen beyond this machine without a token.

    Parameters
    ----------
    host : str
        The address to listen on. Loopback (127.0.0.0/8, ::1, localhost) needs no token.
    token : str or None
        The access token; when None, ``$CRMKIT_TOKEN`` is used. An empty token is no token.

    Returns
    -------
    str or None
        The token in effect.

    Raises
    ------
    ValueError
        When ``host`` is not loopback and there is no token.

    Examples
    --------
    >>> check_bind("::1", None)
    >>> check_bind("192.168.1.5", None)
    Traceback (most recent call last):
    ...
    ValueError: refusing to listen on 192.168.1.5 without a token: anyone on the network could open the dashboards; pass --token-file or set CRMKIT_TOKEN
    """  # noqa: E501
    if token is None:
        token = os.environ.get("CRMKIT_TOKEN")
    token = token or None
    if token is None and not _is_loopback(host):
        raise ValueError(
            f"refusing to listen on {host or 'every address'} without a token: anyone on the "
            "network could open the dashboards; pass --token-file or set CRMKIT_TOKEN"
        )
    return token


def voila_config(
    root: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8866,
    token: str | None = None,
    open_browser: bool = False,
    max_kernels: int | None = None,
    cull_idle_seconds: int = 600,
    disconnect_grace_seconds: float = DISCONNECT_GRACE_SECONDS,
    preheat: int = 0,
) -> Config:
    """The Voila configuration ``serve()`` runs with; inspect it without starting a server.

    Parameters are those of ``serve()``; ``token`` is used as given (no ``$CRMKIT_TOKEN``).
    The configuration is complete: ``serve()`` reads no ``voila.json`` / ``voila.py`` file, so
    none can undo the lock-down.
    """
    if max_kernels is None:
        pages = sum(1 for p in Path(root).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        max_kernels = default_max_kernels(pooled=preheat * pages)
    if max_kernels < 1:
        raise ValueError(f"max_kernels must be at least 1, got {max_kernels}")
    if cull_idle_seconds < 0:
        raise ValueError(f"cull_idle_seconds must be >= 0 (0: never cull), got {cull_idle_seconds}")
    if disconnect_grace_seconds < 0:
        raise ValueError(f"disconnect_grace_seconds must be >= 0, got {disconnect_grace_seconds}")
    if preheat < 0:
        raise ValueError(f"preheat must be >= 0 (0: no pre-heated kernels), got {preheat}")
    c = Config()
    c.Voila.root_dir = str(Path(root).resolve())
    c.Voila.ip = host
    c.Voila.port = port
    c.Voila.port_retries = 0
    c.Voila.open_browser = open_browser
    c.Voila.config_file_paths = []
    if token:
        c.Voila.token = token
    c.Voila.tornado_settings = {
        "jinja_template_vars": {
            "app_title": f"{i18n.t('app_title', 'zh')} · {i18n.t('app_title', 'en')}",
            "busy_zh": BUSY_TEXT["zh"],
            "busy_en": BUSY_TEXT["en"],
        },
        "log_function": log_request,
        "ws_ping_interval": WS_PING_MS,
        "ws_ping_timeout": WS_PING_TIMEOUT_MS,
    }
    c.Voila.kernel_websocket_connection_class = QuietKernelConnection

    c.VoilaConfiguration.template = TEMPLATE
    c.VoilaConfiguration.allow_template_override = "NO"
    c.VoilaConfiguration.strip_sources = True
    c.VoilaConfiguration.show_tracebacks = False
    c.VoilaConfiguration.file_allowlist = FILE_ALLOWLIST
    c.VoilaConfiguration.file_denylist = FILE_DENYLIST
    c.VoilaConfiguration.multi_kernel_manager_class = CappedKernelManager

    short_error = f"{i18n.t('error_short', 'zh')} / {i18n.t('error_short', 'en')}"
    # Shown under "There was an error when executing cell [n]." in place of Voila's advice to
    # restart it with --show_tracebacks; the traceback goes to the server log.
    c.VoilaExecutor.cell_error_instruction = short_error
    # Errors raised later, in widget callbacks, reach the browser over the kernel connection
    # with this line in place of the traceback (QuietKernelConnection).
    c.MappingKernelManager.allow_tracebacks = False
    c.MappingKernelManager.traceback_replacement_message = short_error

    # Unix sockets in Voila's private connection folder: other local users cannot reach the
    # kernels, as they could TCP ports on 127.0.0.1.
    c.KernelManager.transport = "ipc"

    c.CappedKernelManager.max_kernels = max_kernels
    c.CappedKernelManager.disconnect_grace_seconds = disconnect_grace_seconds
    c.MappingKernelManager.cull_idle_timeout = cull_idle_seconds
    c.MappingKernelManager.cull_interval = max(1, min(60, cull_idle_seconds // 2))
    # A page that is still connected keeps its kernel however long it is idle: a manager
    # reading a page is using it. Pages that went away free their slot by disconnecting.
    c.MappingKernelManager.cull_connected = False

    if preheat:
        # Pre-heated kernels: Voila runs each page ``preheat`` times ahead of any visitor
        # (imports, snapshot, the page's numbers and widgets), so opening a page only sends the
        # finished widgets; a used kernel is replaced in the background. The pool is not capped
        # by max_kernels (see CappedKernelManager) and Voila never culls a pooled kernel.
        c.VoilaConfiguration.preheat_kernel = True
        c.VoilaConfiguration.default_pool_size = preheat
        c.VoilaKernelManager.fill_delay = 0
    return c


def server_environment(published: Path, role: str = "dashboard") -> dict[str, str]:
    """Environment variables ``serve()`` sets; the kernels inherit them.

    ``CRMKIT_PUBLISHED`` (absolute) and ``CRMKIT_ROLE`` are for the pages;
    ``CRMKIT_WIDGET_BUNDLE`` tells ``crmkit.charts`` where the server offers plotly's widget
    bundle; ``JUPYTER_PATH`` puts the crmkit template first for Voila.
    """
    check_role(role)
    jupyter_path = [str(TEMPLATE_ROOT)]
    if os.environ.get("JUPYTER_PATH"):
        jupyter_path.append(os.environ["JUPYTER_PATH"])
    return {
        "CRMKIT_PUBLISHED": str(Path(published).resolve()),
        "CRMKIT_ROLE": role,
        "CRMKIT_WIDGET_BUNDLE": WIDGET_BUNDLE_PATH,
        "JUPYTER_PATH": os.pathsep.join(jupyter_path),
    }


def _check_port_free(host: str, port: int) -> None:
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as e:
        raise ValueError(
            f"cannot listen on {host}:{port} ({e.strerror}); is crmkit serve already running? "
            "pass another --port"
        ) from None


def serve(
    root: Path = Path("dashboards"),
    *,
    host: str = "127.0.0.1",
    port: int = 8866,
    token: str | None = None,
    token_file: str | os.PathLike | None = None,
    open_browser: bool = False,
    published: Path | None = None,
    max_kernels: int | None = None,
    cull_idle_seconds: int = 600,
    disconnect_grace_seconds: float = DISCONNECT_GRACE_SECONDS,
    role: str = "dashboard",
    preheat: int = 0,
    config: str | os.PathLike | None = None,
) -> int:
    """Serve the dashboards in ``root`` until interrupted (Ctrl-C or SIGTERM).

    Parameters
    ----------
    root : Path, default ``dashboards``
        The folder of page notebooks; ``index.ipynb`` in it is the landing page.
    host : str, default "127.0.0.1"
        Address to listen on; any non-loopback address needs a token (see ``check_bind``).
    port : int, default 8866
    token : str, optional
        Access token; default ``$CRMKIT_TOKEN``; none: no authentication (loopback only).
        Given on the command line (``--token``) every user of the machine can read it in ``ps``.
    token_file : path-like, optional
        A file holding the token on one line, in place of ``token``.
    open_browser : bool, default False
        Open the landing page in the local browser once listening.
    published : Path, optional
        The published snapshot the pages read; default ``$CRMKIT_PUBLISHED``, else
        ``data/published.duckdb``. It must exist.
    max_kernels : int, optional
        Most pages open at once; beyond it a page answers 503 "busy" and asks again by itself.
        Default: what this machine's memory holds, at most 20 (``default_max_kernels``).
    cull_idle_seconds : int, default 600
        Shut down kernels no page is connected to once idle this long; 0 never culls.
    disconnect_grace_seconds : float, default 30
        Shut down a page's kernel this long after its last connection closed.
    role : {"dashboard", "analyst"}, default "dashboard"
        ``dashboard`` pages read the snapshot with names, phones, emails and the numbers in
        free text masked; ``analyst`` pages the clear analyst snapshot beside it, which must
        exist.
    preheat : int, default 0
        Kernels per page run ahead of any visitor (Voila's pre-heated pool): a page then opens
        in about a second instead of importing, querying and drawing first. Each costs a
        kernel's memory all the time (at 10 M orders a few hundred MB per page). A pooled page
        holds the snapshot it was built on: restart the server after ``crmkit publish``.
    config : path-like, optional
        The company's settings directory (or ``$CRMKIT_CONFIG``): the pages show the settings
        the snapshot was published with, so when given they must be those
        (:func:`crmkit.publish.check_snapshot_settings`; refused otherwise).

    Returns
    -------
    int
        0 after a clean shutdown; 2 when the server could not start (the reason on stderr).
    """
    host = host.strip("[]")
    try:
        if token is not None and token_file is not None:
            raise ValueError("pass --token or --token-file, not both")
        if token_file is not None:
            token = read_token_file(token_file)
            warning = token_file_warning(token_file)
            if warning:
                print(f"crmkit serve: warning: {warning}", file=sys.stderr)
        token = check_bind(host, token)
        snapshot = db.published_path(published)
        if not snapshot.is_file():
            raise ValueError(
                f"no published snapshot at {snapshot}; run `crmkit publish` (or `make demo`) first"
            )
        if role == "analyst" and not db.analyst_path(snapshot).is_file():
            raise ValueError(
                f"no analyst snapshot at {db.analyst_path(snapshot)}; run `crmkit publish` again "
                "(it writes the clear analyst file beside the masked snapshot)"
            )
        if not Path(root).is_dir():
            raise ValueError(f"no dashboards folder at {root}; pass the folder of page notebooks")
        from crmkit.publish import check_snapshot_settings

        check_snapshot_settings(snapshot, config)
        voila = voila_config(
            root,
            host=host,
            port=port,
            token=token,
            open_browser=open_browser,
            max_kernels=max_kernels,
            cull_idle_seconds=cull_idle_seconds,
            disconnect_grace_seconds=disconnect_grace_seconds,
            preheat=preheat,
        )
        env = server_environment(snapshot, role)
        _check_port_free(host, port)
    except ValueError as e:
        print(f"crmkit serve: {e}", file=sys.stderr)
        return EXIT_FAILED
    os.environ.update(env)
    # kernels inherit the server's environment; no page needs the token
    os.environ.pop("CRMKIT_TOKEN", None)
    # The singleton, as `voila` itself makes it: parentless parts (the notebook renderer that
    # logs cell tracebacks) log through the app.
    app = CrmkitVoila.instance(config=voila)
    try:
        app.initialize([])
        app.start()
    except SystemExit as e:  # Voila exits when it cannot listen after all
        return e.code if isinstance(e.code, int) else EXIT_FAILED
    return EXIT_OK


#: ``--config`` of ``crmkit serve`` and ``crmkit report``.
CONFIG_CHECK_HELP = (
    "the company's settings directory (default $CRMKIT_CONFIG); the snapshot's figures use the "
    "settings it was published with, and a different directory is refused with how to republish"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``serve()``'s options to a parser (``crmkit serve`` and ``python -m crmkit.serve``)."""
    parser.add_argument("--root", type=Path, default=Path("dashboards"), help="page notebooks")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8866)
    parser.add_argument(
        "--token-file", help="file holding the access token (default: $CRMKIT_TOKEN)"
    )
    parser.add_argument(
        "--token", help="access token; visible to every user of this machine, prefer --token-file"
    )
    parser.add_argument(
        "--no-browser", dest="open_browser", action="store_false", help="do not open a browser"
    )
    parser.add_argument(
        "--published",
        type=Path,
        help="published snapshot (default $CRMKIT_PUBLISHED or data/published.duckdb)",
    )
    parser.add_argument(
        "--max-kernels",
        type=int,
        help="most pages open at once (default: what this machine's memory holds, at most 20)",
    )
    parser.add_argument(
        "--cull-idle-seconds",
        type=int,
        default=600,
        help="shut down kernels no page is connected to once idle this long",
    )
    parser.add_argument(
        "--disconnect-grace-seconds",
        type=float,
        default=DISCONNECT_GRACE_SECONDS,
        help="shut down a page's kernel this long after its connection closed",
    )
    parser.add_argument("--role", choices=ROLES, default="dashboard", help="analyst shows PII")
    parser.add_argument(
        "--preheat",
        type=int,
        default=0,
        help="kernels per page run ahead of visitors (pages open at once; costs memory)",
    )
    parser.add_argument("--config", help=CONFIG_CHECK_HELP)


def serve_args(args: argparse.Namespace) -> int:
    """Call ``serve()`` with options parsed by a parser that ``add_arguments`` set up."""
    if args.token is not None:
        print(
            "crmkit serve: warning: --token shows the token to every user of this machine "
            "(ps); use --token-file or $CRMKIT_TOKEN",
            file=sys.stderr,
        )
    return serve(
        args.root,
        host=args.host,
        port=args.port,
        token=args.token,
        token_file=args.token_file,
        open_browser=args.open_browser,
        published=args.published,
        max_kernels=args.max_kernels,
        cull_idle_seconds=args.cull_idle_seconds,
        disconnect_grace_seconds=args.disconnect_grace_seconds,
        role=args.role,
        preheat=args.preheat,
        config=args.config,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crmkit serve", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return serve_args(parser.parse_args(argv))
