"""What the alert tests' local receivers (an HTTP webhook server, an aiosmtpd SMTP server, both on 127.0.0.1)
share: an inbox to wait on with a deadline, and a free port. Importable from tests (pytest's `pythonpath`)."""

from __future__ import annotations

import socket
import threading

DEADLINE_S = 20.0


class Inbox:
    """What a local server received, with a condition to wait on."""

    def __init__(self) -> None:
        self.items: list = []
        self._cond = threading.Condition()

    def add(self, item) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait_for(self, n: int = 1, timeout: float = DEADLINE_S) -> list:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.items) >= n, timeout=timeout):
                raise AssertionError(f"expected {n} deliveries within {timeout}s, got {len(self.items)}")
            return list(self.items)


def free_port() -> int:
    """A port nothing listens on (bound then released): a 'down' server, or a port for aiosmtpd."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
