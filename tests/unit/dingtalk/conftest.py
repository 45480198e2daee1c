"""Fixtures for the DingTalk unit tests."""

from __future__ import annotations

from typing import Any

import pytest

from bot.dingtalk.settings import DingtalkSettings
from tests.fakes.dingtalk_data import load_vectors


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    return load_vectors()


@pytest.fixture
def settings(vectors: dict[str, Any]) -> DingtalkSettings:
    keys = vectors["b_callback_crypto"]["keys"]
    return DingtalkSettings(
        app_key=keys["owner_key"],
        app_secret=vectors["a_robot_callback"]["app_secret"],
        event_token=keys["token"],
        event_aes_key=keys["aes_key"],
        card_callback_secret=vectors["d_card_callback"]["api_secret"],
    )
