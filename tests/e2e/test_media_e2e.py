"""Photos sent in chat are fetched from the platform at once and served by the REST API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.helpers import eventually
from tests.e2e.platforms import open_chat, people_yaml

JPEG = b"\xff\xd8\xff\xe0" + b"photo-bytes" * 50


@pytest.fixture(params=["wecom", "dingtalk"])
async def chat(request, aiohttp_client, make_settings, tmp_path) -> AsyncIterator:
    config = (
        people_yaml([("zhang", "张伟", "engineer")], request.param)
        + "assignment: {auto_dispatch: false}\n"
    )
    async with open_chat(
        request.param, aiohttp_client, make_settings, config, media_dir=str(tmp_path / "media")
    ) as c:
        yield c


def put_photo(chat, media_id: str, data: bytes) -> None:
    if chat.platform == "wecom":
        chat.fake.add_media(media_id, data, "image/jpeg")
    else:
        chat.fake.files[media_id] = data


async def test_a_photo_is_fetched_and_served(chat, auth) -> None:
    put_photo(chat, "MEDIA1", JPEG)
    await chat.photo("kehu", "MEDIA1")

    async def served() -> bytes | None:
        r = await chat.client.get(f"/api/v1/media/{chat.platform}/MEDIA1", headers=auth)
        return await r.read() if r.status == 200 else None

    body = await eventually(served)
    assert body == JPEG
    r = await chat.client.get(f"/api/v1/media/{chat.platform}/MEDIA1", headers=auth)
    assert r.headers["Content-Type"] == "image/jpeg"


async def test_unknown_media_is_404_and_needs_a_token(chat, auth) -> None:
    r = await chat.client.get(f"/api/v1/media/{chat.platform}/NOPE", headers=auth)
    assert r.status == 404
    r = await chat.client.get(f"/api/v1/media/{chat.platform}/NOPE")
    assert r.status == 401
