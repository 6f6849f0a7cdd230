"""The demo's photos: generated pictures on a few of the sample household's service orders
(a broken stair light, a leaking pipe) and before/after pairs on removed illegal
structures (通报曝光). Stored through the configured storage; skipped without one."""

from __future__ import annotations

import io
from typing import Final

from PIL import Image, ImageDraw

from db import attachments as db
from db.demo.load import Demo
from db.storage import content_key

ORDERS_OF_HOUSEHOLD: Final = """
SELECT o.id, o.county_id FROM service_orders o WHERE o.household_id = $1 ORDER BY o.id LIMIT 3
"""
REMOVED_STRUCTURES: Final = """
SELECT f.id, f.county_id FROM findings f
WHERE f.category = 'ILLEGAL_STRUCTURE' AND f.rectified_at IS NOT NULL ORDER BY f.id LIMIT 3
"""


def picture(seed: int, *, removed: bool = False) -> tuple[bytes, bytes]:
    """A JPEG of a building (with a shed on its roof unless `removed`) and its thumbnail."""
    sky = (120 + seed * 17 % 100, 170, 220)
    image = Image.new("RGB", (960, 720), sky)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 560, 960, 720), fill=(90, 90, 90))
    draw.rectangle((220, 180, 740, 600), fill=(200 - seed * 13 % 60, 180, 150), outline=(60, 60, 60), width=4)
    for row in range(4):
        for col in range(5):
            x, y = 250 + col * 95, 210 + row * 90
            draw.rectangle((x, y, x + 60, y + 55), fill=(250, 240, 180) if (row + col + seed) % 3 else (40, 50, 70))
    if not removed:
        draw.polygon([(300, 180), (660, 180), (620, 110), (340, 110)], fill=(70, 110, 160), outline=(30, 30, 30))
    out, small = io.BytesIO(), io.BytesIO()
    image.save(out, "JPEG", quality=85)
    image.thumbnail((320, 320))
    image.save(small, "JPEG", quality=80)
    return out.getvalue(), small.getvalue()


async def step(demo: Demo) -> None:
    storage = demo.storage
    if storage is None:
        return
    conn = demo.conn
    made = 0

    async def attach(subject_type: str, subject: int, county: int, caption: str, *, removed: bool = False) -> None:
        nonlocal made
        content, thumbnail = picture(made, removed=removed)
        made += 1
        key, thumb_key = content_key(content), content_key(thumbnail)
        await storage.put(key, content, "image/jpeg")
        await storage.put(thumb_key, thumbnail, "image/jpeg")
        new = db.NewAttachment(
            subject_type=subject_type,
            subject_id=subject,
            sha256=key,
            content_type="image/jpeg",
            byte_size=len(content),
            thumbnail_sha256=thumb_key,
            caption=caption,
            file_name=f"IMG_{2022_0600 + made}.jpg",
        )
        await db.insert(conn, county, new, created_by=demo.ids["users"]["staff"])

    household = demo.ids["sample"]["resident_household"]
    for i, order in enumerate(await conn.fetch(ORDERS_OF_HOUSEHOLD, household)):
        await attach("ServiceOrder", order["id"], order["county_id"], ("楼道灯不亮", "水管漏水", "门禁损坏")[i])
    for finding in await conn.fetch(REMOVED_STRUCTURES):
        await attach("Finding", finding["id"], finding["county_id"], "整改前：楼顶违建彩钢棚")
        await attach("Finding", finding["id"], finding["county_id"], "整改后：违建已拆除", removed=True)
