"""uvicorn's HTTP protocol (httptools), sending what one turn of the event loop writes in one
piece.

uvicorn writes a response's status line and headers as soon as the app starts the response,
and its body on the next message: two writes, so two `send` calls, two TCP segments and two
wake-ups of the client for every response, though the app sends both messages one after the
other (Starlette's `Response`). The transport here keeps what is written during one turn of
the event loop and hands it to the socket's transport at the end of that turn (or before
anything else touches the transport: closing, pausing), in the order written. A streamed
response still goes out turn by turn; nothing waits longer than the turn it was written in.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class TurnTransport:
    """A transport that joins the writes of one event-loop turn (see the module's docstring);
    everything else is the socket transport's own."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending = []
            if not self._transport.is_closing():
                self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(p) for p in self._pending)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading...
        return getattr(self._transport, name)


class TurnHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(TurnTransport(transport, self.loop))  # type: ignore[arg-type]
