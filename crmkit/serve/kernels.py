"""Page kernels: how many at once (by this machine's memory), when they are given back (their
page gone), and what of theirs reaches the browser (no stderr, no traceback)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import tornado.ioloop
from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Float, Integer
from voila.request_info_handler import RequestInfoSocketHandler

#: A page's kernel, opened in Chromium and filtered once, on the 20,000-customer demo (RSS, MB):
#: overview 323, data overview 283, classification 293, needs 308, satisfaction 340, churn 308
#: (``python -m bench.serve_load`` records it as ``kernel_rss_mib``). Counted as 400 MiB, room
#: for a larger company's data.
KERNEL_MIB = 400
#: The managers the default page cap is sized for.
VIEWERS = 20
#: The fewest pages the default cap allows, however small the machine.
MIN_KERNELS = 2
#: The share of the machine's memory page kernels may take; the rest is the server's, DuckDB's
#: (publish) and the system's.
MEMORY_SHARE = 0.75
#: Seconds a page's kernel outlives its last websocket: enough for a browser to reconnect
#: after a blip, short enough that closed tabs give their slots back within a minute.
DISCONNECT_GRACE_SECONDS = 30
#: Keep-alive pings on every websocket (milliseconds): a connection that stops answering (network
#: gone, laptop closed) is closed after the timeout, which starts its kernel's grace period.
WS_PING_MS = 10_000
WS_PING_TIMEOUT_MS = 25_000
V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def memory_mib() -> float:
    """This machine's memory in MiB, or the container's limit (cgroup v2) when lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        limit = "max"
    if limit.isdigit():
        total = min(total, int(limit))
    return total / 2**20


def default_max_kernels(total_mib: float | None = None, *, pooled: int = 0) -> int:
    """The page cap when none is given: the pages ``MEMORY_SHARE`` of the memory holds at
    ``KERNEL_MIB`` each, less the ``pooled`` pre-heated kernels, between ``MIN_KERNELS`` and
    ``VIEWERS``.

    Parameters
    ----------
    total_mib : float, optional
        The machine's memory in MiB; default ``memory_mib()``.
    pooled : int, default 0
        Pre-heated kernels (``--preheat`` × pages): they take memory but no page slot.

    Examples
    --------
    24 GiB hold 24576 × 0.75 / 400 = 46 pages, more than the 20 managers aimed for:

    >>> default_max_kernels(24 * 1024)
    20
    >>> default_max_kernels(4 * 1024)  # 3072 / 400 = 7.68
    7
    >>> default_max_kernels(4 * 1024, pooled=6)  # 7 - 6 = 1, the floor is 2
    2
    """
    if total_mib is None:
        total_mib = memory_mib()
    fits = int(total_mib * MEMORY_SHARE // KERNEL_MIB) - pooled
    return max(MIN_KERNELS, min(VIEWERS, fits))


class KernelLimitReached(RuntimeError):
    """Raised by ``CappedKernelManager.start_kernel`` when every kernel slot is taken."""


class CappedKernelManager(AsyncMappingKernelManager):
    """A kernel manager that refuses to start more than ``max_kernels`` kernels at a time and
    gives a slot back soon after its page has gone.

    Kernels that are still starting count against the cap, so a burst of requests cannot
    overshoot it (for the moment between a kernel being registered and its start returning, it
    counts twice: the cap errs on the side of refusing). A kernel frees its slot when its page
    closes (Voila's unload beacon), ``disconnect_grace_seconds`` after its last websocket closed
    (no beacon needed: a tab killed, a browser gone), when it is culled after
    ``cull_idle_timeout`` seconds idle with no page connected, or when it dies.
    """

    max_kernels = Integer(8, config=True, help="Most kernels running or starting at once.")
    disconnect_grace_seconds = Float(
        DISCONNECT_GRACE_SECONDS,
        config=True,
        help="Seconds a kernel lives on after its last websocket closed; a reconnection keeps it.",
    )

    def __init__(self, **kwargs):
        self._launching = 0
        self._pool_launching = 0
        self._reclaim: dict[str, object] = {}  # kernel id: its shutdown, scheduled
        self._pooled_before: set[str] = set()
        super().__init__(**kwargs)

    def _pooled_ids(self) -> set[str]:
        """Kernels started and waiting in Voila's pre-heated pool (``--preheat``)."""
        ids = set()
        for pool in getattr(self, "_pools", {}).values():
            for task in pool:
                if task.done() and not task.cancelled() and task.exception() is None:
                    ids.add(task.result().get("kernel_id"))
        return {kernel_id for kernel_id in ids if kernel_id in self}

    def _pooled(self) -> int:
        """Kernels in the pre-heated pool, started or starting: no page uses them yet, so they
        take no slot."""
        return len(self._pooled_ids()) + self._pool_launching

    def pages_open(self) -> int:
        """Kernels running or starting for visitors' pages (not the pre-heated pool's)."""
        return len(self) + self._launching - self._pooled()

    def full(self) -> bool:
        """Whether every slot is taken: a page that would get a pre-heated kernel must wait too."""
        return self.pages_open() >= self.max_kernels

    async def start_kernel(self, *args, kernel_id: str | None = None, **kwargs) -> str:
        """Start a kernel as ``AsyncMappingKernelManager`` does, or raise ``KernelLimitReached``.

        Kernels that Voila starts for its pre-heated pool (their environment says
        ``VOILA_PREHEAT=True``) are not capped: there are pool size × pages of them.
        """
        if (kwargs.get("env") or {}).get("VOILA_PREHEAT") == "True":
            self._pool_launching += 1
            try:
                return await super().start_kernel(*args, kernel_id=kernel_id, **kwargs)
            finally:
                self._pool_launching -= 1
        if kernel_id is None or kernel_id not in self:
            # Check and count without an await in between: the event loop cannot let a second
            # request through the same slot.
            busy = self.pages_open()
            if busy >= self.max_kernels:
                self.log.warning(
                    "refusing a new kernel: %d running or starting, max_kernels=%d",
                    busy,
                    self.max_kernels,
                )
                raise KernelLimitReached(f"{busy} kernels running or starting")
        self._launching += 1
        try:
            return await super().start_kernel(*args, kernel_id=kernel_id, **kwargs)
        finally:
            self._launching -= 1

    def notify_connect(self, kernel_id: str) -> None:
        """A websocket opened: the kernel's page is back, if it had gone."""
        super().notify_connect(kernel_id)
        timer = self._reclaim.pop(kernel_id, None)
        if timer is not None:
            tornado.ioloop.IOLoop.current().remove_timeout(timer)

    def notify_disconnect(self, kernel_id: str) -> None:
        """A websocket closed: when it was the kernel's last, shut the kernel down after
        ``disconnect_grace_seconds`` unless a websocket opens again by then."""
        super().notify_disconnect(kernel_id)
        if self._kernel_connections.get(kernel_id) == 0 and kernel_id not in self._reclaim:
            self._reclaim[kernel_id] = tornado.ioloop.IOLoop.current().call_later(
                self.disconnect_grace_seconds, self._reclaim_kernel, kernel_id
            )

    async def _reclaim_kernel(self, kernel_id: str) -> None:
        self._reclaim.pop(kernel_id, None)
        if kernel_id not in self or self._kernel_connections.get(kernel_id, 0):
            return
        self.log.info(
            "Shutting down kernel %s: no page connected for %g s",
            kernel_id,
            self.disconnect_grace_seconds,
        )
        try:
            await ensure_async(self.shutdown_kernel(kernel_id))
        except Exception:  # the kernel died meanwhile; nothing is left to free
            self.log.warning("Shutting down kernel %s failed", kernel_id, exc_info=True)

    async def shutdown_kernel(self, kernel_id: str, *args, **kwargs):
        timer = self._reclaim.pop(kernel_id, None)
        if timer is not None:
            tornado.ioloop.IOLoop.current().remove_timeout(timer)
        # what Voila kept for the kernel's /voila/query/ (a page request's query string)
        RequestInfoSocketHandler._cache.pop(kernel_id, None)
        return await super().shutdown_kernel(kernel_id, *args, **kwargs)

    async def cull_kernels(self):
        """Cull as jupyter-server does, with one fix for the pre-heated pool: a kernel taken out
        of the pool since the last pass was just handed to a visitor. That counts as activity,
        or a kernel that waited in the pool longer than ``cull_idle_timeout`` could be culled
        before its page connects."""
        pooled = self._pooled_ids()
        now = datetime.now(UTC)
        for kernel_id in self._pooled_before - pooled:
            if kernel_id in self:
                self.get_kernel(kernel_id).last_activity = now
        self._pooled_before = pooled
        await super().cull_kernels()


class QuietKernelConnection(ZMQChannelsWebsocketConnection):
    """The kernel websocket of a page, with what the kernel writes to stderr or raises kept in the
    server log: the browser gets neither the text (a malformed widget message makes the kernel
    print a traceback to stderr) nor a traceback (``error`` messages carry the short line)."""

    def handle_outgoing_message(self, stream, outgoing_msg: list) -> None:
        channel = getattr(
            self.channels.get(stream) if isinstance(stream, str) else stream, "channel", None
        )
        if channel == "iopub":
            _, parts = self.session.feed_identities(outgoing_msg)
            # parts: signature, header, parent header, metadata, content, buffers…
            if self.session.unpack(parts[1]).get("msg_type") == "stream":
                content = self.session.unpack(parts[4])
                if content.get("name") == "stderr":
                    self.log.warning(
                        "kernel %s stderr: %s", self.kernel_id, content.get("text", "").rstrip()
                    )
                    return
        super().handle_outgoing_message(stream, outgoing_msg)

    def _on_error(self, channel, msg: dict, msg_list: list) -> None:
        """The traceback of an ``error`` message to the server log, the short line to the page.

        Replaces jupyter-server's (2.21), which reads the short line from the kernel's own
        manager instead of the mapping manager, fails with an AttributeError and drops the
        message, so neither the page nor the log learnt what went wrong.
        """
        if channel != "iopub" or self.multi_kernel_manager.allow_tracebacks:
            return
        msg["header"] = self.get_part("header", msg["header"], msg_list)
        if msg["header"]["msg_type"] != "error":
            return
        content = self.get_part("content", msg["content"], msg_list)
        lines = content.get("traceback") or [f"{content.get('ename')}: {content.get('evalue')}"]
        self.log.error("kernel %s: %s", self.kernel_id, _ANSI.sub("", "\n".join(lines)))
        content.update(
            ename="ExecutionError",
            evalue="Execution error",
            traceback=[self.multi_kernel_manager.traceback_replacement_message],
        )
        msg["content"] = content
        if self.subprotocol == V1_PROTOCOL:
            msg_list[3] = self.session.pack(content)
