"""Access to the dashboards: the token (from a file, the environment or the command line), its
exchange for the login cookie, the login on Voila's ``/voila/query/`` socket, and logs without it.

jupyter-server's identity provider checks the token (``?token=…`` or an ``Authorization: token``
header) and sets the login cookie; ``TokenToCookie`` then sends the browser on to the same address
without the token, so it leaves the address bar, the history, later ``Referer`` headers and the
page's kernel (Voila gives a kernel its page's query string).
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode

import tornado.web
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from voila.request_info_handler import RequestInfoSocketHandler

#: ``token=<value>`` in a URL, also inside an encoded one (``next=%2F…%3Ftoken%3D…``).
_TOKEN_PARAM = re.compile(r"(token(?:=|%3D))[^&\s\"'#]+", re.IGNORECASE)


def redact(text: str, token: str | None = None) -> str:
    """``text`` with every ``token=`` value, and ``token`` wherever it appears, as ``[secret]``.

    >>> redact("302 GET /voila/render/a.ipynb?lang=en&token=s3cret (127.0.0.1)")
    '302 GET /voila/render/a.ipynb?lang=en&token=[secret] (127.0.0.1)'
    >>> redact("GET /login?next=%2F%3Ftoken%3Ds3cret", "s3cret")
    'GET /login?next=%2F%3Ftoken%3D[secret]'
    >>> redact("Authorization: token s3cret", "s3cret")
    'Authorization: token [secret]'
    """
    text = _TOKEN_PARAM.sub(r"\1[secret]", text)
    if token:
        text = text.replace(token, "[secret]").replace(quote(token, safe=""), "[secret]")
    return text


class RedactTokens(logging.Filter):
    """A log filter that passes every record with its tokens redacted (see ``redact``)."""

    def __init__(self, token: str | None = None):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message, self.token)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def log_request(handler: tornado.web.RequestHandler) -> None:
    """One access-log line per request, the address with its token redacted: failures (4xx
    warning, 5xx error) and redirects (info); successes at debug level, as jupyter-server does."""
    status = handler.get_status()
    if status < 300 or status == 304:
        level = logging.DEBUG
    elif status < 400:
        level = logging.INFO
    elif status < 500:
        level = logging.WARNING
    else:
        level = logging.ERROR
    request = handler.request
    logging.getLogger("tornado.access").log(
        level,
        "%d %s %s (%s) %.2fms",
        status,
        request.method,
        redact(request.uri or ""),
        request.remote_ip,
        1000.0 * request.request_time(),
    )


def read_token_file(path: str | os.PathLike) -> str:
    """The token written in ``path``: its one line, surrounding spaces and newline dropped.

    Raises ``ValueError`` when the file cannot be read, is empty or holds more than one line.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise ValueError(f"cannot read the token file {path}: {reason}") from None
    token = text.strip()
    if not token:
        raise ValueError(f"the token file {path} is empty; write the token in it on one line")
    if len(token.splitlines()) > 1:
        raise ValueError(f"the token file {path} holds more than one line; keep only the token")
    return token


def token_file_warning(path: str | os.PathLike) -> str | None:
    """A warning when users other than the owner (and the group) may read the token file."""
    mode = stat.S_IMODE(Path(path).stat().st_mode)
    if mode & stat.S_IROTH:
        return (
            f"the token file {path} is readable by every user of this machine "
            f"(mode {mode:04o}); chmod 600 {path}"
        )
    return None


class TokenToCookie:
    """Mixin for the HTML pages: a visit that logged in with ``?token=`` (the identity provider
    has set the login cookie by then) is redirected to the same address without the token."""

    async def prepare(self):
        await super().prepare()
        if self._finished or not self.token_authenticated:
            return
        query = parse_qsl(self.request.query, keep_blank_values=True)
        if any(key == "token" for key, _ in query):
            kept = urlencode([(k, v) for k, v in query if k != "token"])
            self.redirect(f"{self.request.path}?{kept}" if kept else self.request.path)


class QueryHandler(WebSocketMixin, RequestInfoSocketHandler, JupyterHandler):
    """``/voila/query/<kernel_id>`` (``--preheat``): where Voila hands a page request's details
    (its query string) to the pre-heated kernel that serves it, behind the same login as the
    pages; Voila's own handler asks for none. No crmkit page reads it."""

    def set_default_headers(self):
        """None of the page headers jupyter-server sets: this is a websocket."""

    @ws_authenticated
    async def get(self, *args, **kwargs):
        return await super().get(*args, **kwargs)
