"""A local HTTP server on 127.0.0.1 for the download tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Route:
    body: bytes
    declared_length: int | None = None  # Content-Length sent (default: the true length)
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering
    trickle: float = 0.0  # seconds to wait before each byte of the body (0: the body in one write)


@dataclass
class LocalServer:
    """A server on 127.0.0.1 that serves `routes`; `hits` counts requests per path."""

    url: str
    routes: dict[str, Route] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
