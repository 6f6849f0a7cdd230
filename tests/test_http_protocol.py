"""gongjian/http_protocol.py: uvicorn serving over a real socket, a response's head and body
in one write, a streamed response turn by turn, everything in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send

from gongjian.http_protocol import TurnHttpToolsProtocol, TurnTransport
from tests.serving import free_port

BODY = b'{"data":{"ok":true}}' * 50


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    while (await receive()).get("more_body"):
        pass
    if scope["path"] == "/stream":  # three chunks, each in a turn of its own
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for n in range(3):
            await asyncio.sleep(0.01)
            await send({"type": "http.response.body", "body": b"chunk %d;" % n, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


writes: list[bytes] = []


class Counted:
    """The socket's transport, its writes recorded (what `TurnTransport` hands it)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def write(self, data: bytes) -> None:
        writes.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class CountedProtocol(TurnHttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Counted(transport))  # type: ignore[arg-type]


@asynccontextmanager
async def served() -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=CountedProtocol, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):  # uvicorn has no event for it
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_a_response_head_and_body_go_out_in_one_write() -> None:
    writes.clear()
    async with served() as url, httpx.AsyncClient(base_url=url) as client:
        for _ in range(3):  # one connection, kept alive
            answer = await client.post("/graphql", content=b"{}")
            assert answer.status_code == 200 and answer.content == BODY
    assert len(writes) == 3
    assert all(w.startswith(b"HTTP/1.1 200 OK\r\n") and w.endswith(BODY) for w in writes)


async def test_a_streamed_response_goes_out_turn_by_turn_in_order() -> None:
    writes.clear()
    async with served() as url, httpx.AsyncClient(base_url=url) as client:
        answer = await client.get("/stream")
    assert answer.text == "chunk 0;chunk 1;chunk 2;"
    # the head alone (the first chunk comes a turn later), then each chunk (the last with the
    # end, written in the same turn)
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\n")
    assert writes[1:] == [b"8\r\nchunk 0;\r\n", b"8\r\nchunk 1;\r\n", b"8\r\nchunk 2;\r\n0\r\n\r\n"]


async def test_closing_sends_what_was_written_first() -> None:
    loop = asyncio.get_running_loop()
    received = loop.create_future()

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.set_result(await reader.read())
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    turn = TurnTransport(transport, loop)
    turn.write(b"one,")
    turn.write(b"two")
    assert turn.get_write_buffer_size() == 7  # held until the turn ends
    turn.close()  # in the same turn: what was written goes first
    assert await asyncio.wait_for(received, 5) == b"one,two"
    server.close()
    await server.wait_closed()
