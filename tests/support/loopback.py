"""Serving a loopback emulator's socketserver in a daemon thread, as a context manager."""

from __future__ import annotations

import threading
from socketserver import BaseServer
from typing import Any, Optional, TypeVar

Self = TypeVar("Self", bound="LoopbackServer")


class LoopbackServer:
    """``start``/``stop`` and ``with`` for an emulator that keeps its server in ``_server``.

    ``stop`` shuts the server down and closes its port; ``start`` after ``stop`` calls
    ``_bind`` (emulators that can come back on the same port override it).
    """

    _server: Optional[BaseServer] = None
    _thread: Optional[threading.Thread] = None
    _join_timeout: float = 10.0  # seconds ``stop`` waits for the serving thread

    def _bind(self) -> None:
        raise RuntimeError(f"a stopped {type(self).__name__} cannot be started again")

    def _thread_name(self) -> Optional[str]:
        return None

    def start(self: Self) -> Self:
        """Serve in a daemon thread (a no-op while serving)."""
        if self._thread is not None:
            return self
        if self._server is None:
            self._bind()
        server = self._server
        assert server is not None
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self._thread_name(),
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            if thread is not None:
                server.shutdown()
                thread.join(self._join_timeout)
            server.server_close()

    def __enter__(self: Self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
