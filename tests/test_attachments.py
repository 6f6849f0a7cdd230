"""Attachments through real GraphQL multipart requests: what is accepted (by content),
location data removed, thumbnails, content-addressed storage, who may add and fetch."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from PIL import Image

from db.storage import S3Storage
from gongjian.config import Settings
from resolvers import ids
from tests import builders
from tests.conftest import TEST_SECRET
from tests.support import Api, contract_operations

MAX_UPLOAD = 300_000


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The `api` fixture's settings: storage in a fresh folder, a small upload cap."""
    return Settings(secret=TEST_SECRET, data_dir=tmp_path, max_upload_bytes=MAX_UPLOAD)


def photo(*, gps: bool = True, size: tuple[int, int] = (800, 600), fmt: str = "JPEG", colour: str = "red") -> bytes:
    """A photo with a camera make and, optionally, where it was taken (EXIF GPS)."""
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x010F] = "Huawei"  # Make
    if gps:
        location = exif.get_ifd(0x8825)
        location[1] = "N"
        location[2] = (33.0, 31.0, 12.0)
        location[3] = "E"
        location[4] = (107.0, 59.0, 24.0)
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


async def upload(
    api: Api,
    token: str | None,
    subject_id: str,
    data: bytes,
    *,
    name: str = "photo.jpg",
    content_type: str = "image/jpeg",
    caption: str | None = "楼道灯坏了",
) -> dict[str, Any]:
    """The contract's AddAttachment as a GraphQL multipart request."""
    operations = {
        "query": contract_operations()["AddAttachment"],
        "variables": {"subjectId": subject_id, "file": None, "caption": caption},
    }
    response = await api.client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (name, data, content_type)},
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def stored(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "blobs").rglob("*") if p.is_file()) if (folder / "blobs").exists() else []


async def _order(api: Api, conn: asyncpg.Connection) -> tuple[builders.World, str]:
    w = await builders.world(conn)
    return w, ids.encode("ServiceOrder", await builders.service_order(conn, w))


async def test_a_photo_loses_its_location_and_is_served_only_to_who_may_see_the_order(
    api: Api, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    w, order = await _order(api, conn)
    resident = api.token_for(w.users["resident"])
    original = photo()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the test photo has a location
    result = await upload(api, resident, order, original)
    payload = result["data"]["addAttachment"]
    assert payload["userErrors"] == []
    attachment = payload["attachment"]
    assert attachment["contentType"] == "image/jpeg" and attachment["caption"] == "楼道灯坏了"

    response = await api.client.get(attachment["url"], headers={"Authorization": f"Bearer {resident}"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert len(response.content) == attachment["byteSize"]
    served = Image.open(io.BytesIO(response.content))
    assert served.size == (800, 600)
    exif = served.getexif()
    assert not exif.get_ifd(0x8825) and 0x8825 not in exif  # no location
    assert exif[0x010F] == "Huawei"  # the rest of the EXIF stays

    # the thumbnail, for the same viewers
    listed = await api.op("OrderAttachments", {"id": order}, token=api.token_for(w.users["staff"]))
    assert [a["id"] for a in listed["data"]["node"]["attachments"]] == [attachment["id"]]
    thumb = await api.client.get(attachment["url"] + "?size=thumbnail", headers={"Authorization": f"Bearer {resident}"})
    assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) <= 320

    # a viewer who may not see the order gets 404, as for an id that does not exist; no token: 401
    neighbour = api.token_for(w.users["neighbour"])
    assert (
        await api.client.get(attachment["url"], headers={"Authorization": f"Bearer {neighbour}"})
    ).status_code == 404
    missing = attachment["url"].rsplit("/", 1)[0] + "/" + ids.encode("Attachment", 10**9)
    assert (await api.client.get(missing, headers={"Authorization": f"Bearer {resident}"})).status_code == 404
    assert (await api.client.get(attachment["url"])).status_code == 401
    hidden = await api.op("OrderAttachments", {"id": order}, token=neighbour)
    assert hidden["data"]["node"] is None


async def test_the_same_content_is_stored_once(api: Api, conn: asyncpg.Connection, tmp_path: Path) -> None:
    w, order = await _order(api, conn)
    resident = api.token_for(w.users["resident"])
    same = photo(gps=False)
    first = (await upload(api, resident, order, same))["data"]["addAttachment"]["attachment"]
    second = (await upload(api, resident, order, same, caption="again"))["data"]["addAttachment"]["attachment"]
    assert first["id"] != second["id"]
    assert len(stored(tmp_path)) == 2  # the photo and its thumbnail, once


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (b"just some text, not a photo", "photo.jpg", "image/jpeg"),  # told by content, not by name
        (b"GIF89a" + b"\x00" * 100, "anim.gif", "image/gif"),  # a kind not accepted
        (b"\xff\xd8\xff\xe0 broken jpeg", "broken.jpg", "image/jpeg"),  # claims JPEG, cannot be read
        (b"", "empty.png", "image/png"),
        (b"%PDF-1.4\n" + b"0" * MAX_UPLOAD, "big.pdf", "application/pdf"),  # over the cap
    ],
)
async def test_refused_files_leave_nothing_behind(
    api: Api, conn: asyncpg.Connection, tmp_path: Path, data: bytes, name: str, content_type: str
) -> None:
    w, order = await _order(api, conn)
    result = await upload(api, api.token_for(w.users["resident"]), order, data, name=name, content_type=content_type)
    payload = result["data"]["addAttachment"]
    assert payload["attachment"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID", ["file"])]
    assert stored(tmp_path) == []
    assert await conn.fetchval("SELECT count(*) FROM attachments") == 0


async def test_documents_and_other_photo_kinds(api: Api, conn: asyncpg.Connection, tmp_path: Path) -> None:
    w, order = await _order(api, conn)
    staff = api.token_for(w.users["staff"])
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    document = (await upload(api, staff, order, pdf, name="整改通知.pdf", content_type="application/octet-stream"))[
        "data"
    ]["addAttachment"]["attachment"]
    assert document["contentType"] == "application/pdf" and document["byteSize"] == len(pdf)
    fetched = await api.client.get(document["url"], headers={"Authorization": f"Bearer {staff}"})
    assert fetched.content == pdf and fetched.headers["content-disposition"] == "attachment"
    for fmt, expected in (("PNG", "image/png"), ("WEBP", "image/webp")):
        made = (await upload(api, staff, order, photo(fmt=fmt, colour="blue"), name="x.bin"))["data"]["addAttachment"]
        assert made["attachment"]["contentType"] == expected, made
        served = await api.client.get(made["attachment"]["url"], headers={"Authorization": f"Bearer {staff}"})
        assert not Image.open(io.BytesIO(served.content)).getexif().get_ifd(0x8825)


async def test_who_may_attach_to_findings_and_visits(api: Api, conn: asyncpg.Connection, tmp_path: Path) -> None:
    w = await builders.world(conn)
    finding = ids.encode("Finding", await builders.finding(conn, w.compound))
    pairing = await builders.pairing_of(conn, w.people["cadre"], w.household)
    visit = ids.encode("Visit", await builders.visit(conn, pairing, "HOME_VISIT", "2025-01-15"))
    token = {k: api.token_for(w.users[k]) for k in ("staff", "resident", "cadre", "neighbour")}

    def codes(result: dict[str, Any]) -> list[str]:
        return [e["code"] for e in result["data"]["addAttachment"]["userErrors"]]

    image = photo(gps=False)
    assert codes(await upload(api, token["staff"], finding, image)) == []
    assert codes(await upload(api, token["resident"], finding, image)) == ["NOT_FOUND"]  # not published: not seen
    assert codes(await upload(api, token["cadre"], visit, image)) == []
    assert codes(await upload(api, token["staff"], visit, image)) == ["FORBIDDEN"]  # sees it, not its cadre
    assert codes(await upload(api, token["neighbour"], visit, image)) == ["NOT_FOUND"]
    assert codes(await upload(api, token["staff"], ids.encode("Household", w.household), image)) == ["NOT_FOUND"]
    seen = await api.post(
        "query($id: ID!) { node(id: $id) { ... on Visit { attachments { contentType } } } }",
        {"id": visit},
        token=token["cadre"],
    )
    assert seen["data"]["node"]["attachments"] == [{"contentType": "image/jpeg"}]


def test_s3_requests_are_signed_as_aws_documents() -> None:
    """The GET Object example of AWS's Signature Version 4 documentation."""
    s3 = S3Storage(
        "https://examplebucket.s3.amazonaws.com",
        "ignored",
        "us-east-1",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    headers = s3.signed_headers(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        b"",
        datetime.datetime(2013, 5, 24, tzinfo=datetime.UTC),
        {"Range": "bytes=0-9"},
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


async def test_the_demo_has_photos_on_orders_and_findings(committed_db: dict[str, Any], tmp_path: Path) -> None:
    import httpx

    from db.demo import load
    from db.storage import LocalStorage
    from gongjian import clock
    from gongjian.app import create_app

    today = clock.today("Asia/Shanghai")
    assert await load.run(committed_db["url"], "demo-password-1", today=today, storage=LocalStorage(tmp_path))
    pool: asyncpg.Pool = committed_db["pool"]
    resident = await pool.fetchval("SELECT id FROM users WHERE username = 'resident'")
    staff = await pool.fetchval("SELECT id FROM users WHERE username = 'staff'")
    assert await pool.fetchval("SELECT count(*) FROM attachments WHERE subject_type = 'ServiceOrder'") >= 1
    assert await pool.fetchval("SELECT count(*) FROM attachments WHERE subject_type = 'Finding'") >= 2
    app = create_app(Settings(secret=TEST_SECRET, data_dir=tmp_path), db=committed_db["db"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        api = Api(client=client, secret=TEST_SECRET)
        orders = await api.ok(
            "{ serviceOrders(first: 100) { edges { node { id attachments { url caption } } } } }",
            token=api.token_for(resident),
        )
        photos = [a for e in orders["serviceOrders"]["edges"] for a in e["node"]["attachments"]]
        assert photos and all(p["caption"] for p in photos)
        response = await client.get(photos[0]["url"], headers={"Authorization": f"Bearer {api.token_for(resident)}"})
        assert response.status_code == 200 and Image.open(io.BytesIO(response.content)).format == "JPEG"
        notices = await api.ok(
            "{ findings(first: 100) { edges { node { attachments { caption } } } } }", token=api.token_for(staff)
        )
        captions = [a["caption"] for e in notices["findings"]["edges"] for a in e["node"]["attachments"]]
        assert any(c.startswith("整改前") for c in captions) and any(c.startswith("整改后") for c in captions)


async def test_a_multipart_body_far_over_the_cap_is_refused_before_it_is_read(
    api: Api, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    w, order = await _order(api, conn)
    operations = {"query": contract_operations()["AddAttachment"], "variables": {"subjectId": order, "file": None}}
    response = await api.client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("big.pdf", b"%PDF-" + b"0" * (MAX_UPLOAD + 100_000), "application/pdf")},
        headers={"Authorization": f"Bearer {api.token_for(w.users['resident'])}"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert stored(tmp_path) == []


async def test_s3_storage_puts_gets_and_deletes_against_a_loopback_store() -> None:
    """A minimal S3-compatible endpoint on the loopback: path-style objects, signed requests."""
    import asyncio
    import hashlib

    objects: dict[str, bytes] = {}
    seen: list[tuple[str, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        request, *lines = head.strip().split("\r\n")
        method, path, _ = request.split(" ")
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        seen.append((method, path))
        signed = headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 Credential=key/")
        status, payload = "403 Forbidden", b""
        if signed and headers.get("x-amz-content-sha256") == hashlib.sha256(body).hexdigest():
            if method == "PUT":
                objects[path], status = body, "200 OK"
            elif method in ("GET", "HEAD"):
                status, payload = ("200 OK", objects[path]) if path in objects else ("404 Not Found", b"")
            elif method == "DELETE":
                objects.pop(path, None)
                status = "204 No Content"
        length = len(payload) if method != "HEAD" else 0
        writer.write(f"HTTP/1.1 {status}\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n".encode())
        if method == "GET":
            writer.write(payload)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = S3Storage(f"http://127.0.0.1:{port}", "gongjian", "cn-north-1", "key", "secret")
    key = "a" * 64
    try:
        assert await store.get(key) is None
        assert await store.put(key, b"photo bytes", "image/jpeg") is True
        assert await store.put(key, b"photo bytes", "image/jpeg") is False  # stored once
        assert await store.get(key) == b"photo bytes"
        await store.delete(key)
        assert await store.get(key) is None
    finally:
        server.close()
        await server.wait_closed()
    assert ("PUT", f"/gongjian/{key}") in seen and seen.count(("PUT", f"/gongjian/{key}")) == 1


async def test_who_may_attach_is_the_sql_rule_may_attach(api: Api, conn: asyncpg.Connection, tmp_path: Path) -> None:
    """addAttachment runs the rule its SDL names: replaced by one that refuses everybody (in
    the test's transaction), the cadre who attaches to their visit is refused; restored, they
    attach again. A partner unit's API token never attaches, not even to an order its unit is
    assigned (it sees the order)."""
    from resolvers import rules

    w = await builders.world(conn)
    pairing = await builders.pairing_of(conn, w.people["cadre"], w.household)
    visit = ids.encode("Visit", await builders.visit(conn, pairing, "HOME_VISIT", "2025-01-15"))
    cadre = api.token_for(w.users["cadre"])
    image = photo(gps=False)

    def codes(result: dict[str, Any]) -> list[str]:
        return [e["code"] for e in result["data"]["addAttachment"]["userErrors"]]

    assert rules.ATTACHMENT_SUBJECT.sql and rules.ATTACHMENT_SUBJECT.name == "may_attach"
    refused = conn.transaction()
    await refused.start()
    await conn.execute(
        "CREATE OR REPLACE FUNCTION may_attach(subject_type text, subject bigint, v viewer) RETURNS boolean "
        "LANGUAGE sql STABLE AS 'SELECT false'"
    )
    assert codes(await upload(api, cadre, visit, image)) == ["FORBIDDEN"]
    await refused.rollback()
    assert codes(await upload(api, cadre, visit, image)) == []
    order = await builders.service_order(conn, w)
    await conn.execute("UPDATE service_orders SET assignee_unit_id = $2 WHERE id = $1", order, w.unit)
    secret = "gjt_attach-token-secret-0123456789"
    await builders.api_token(conn, w.unit, w.users["unit"], secret)
    assert codes(await upload(api, secret, ids.encode("ServiceOrder", order), image)) == ["FORBIDDEN"]


async def test_an_attachment_url_names_the_host_the_client_asked(api: Api, conn: asyncpg.Connection) -> None:
    w, order = await _order(api, conn)
    resident = api.token_for(w.users["resident"])
    attachment = (await upload(api, resident, order, photo()))["data"]["addAttachment"]["attachment"]
    query = "query($id: ID!) { node(id: $id) { ... on Attachment { url } } }"
    for host in ("a.example", "b.example:8443", "a.example"):
        response = await api.client.post(
            "/graphql",
            json={"query": query, "variables": {"id": attachment["id"]}},
            headers={"Authorization": f"Bearer {resident}", "Host": host},
        )
        assert response.json()["data"]["node"]["url"] == f"http://{host}/attachments/{attachment['id']}"
