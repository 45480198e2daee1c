"""docker-compose.yml keeps what must outlive a container in volumes."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_media_dir_is_a_named_volume_in_docker_compose() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    service = compose["services"]["chatdesk"]
    media_dir = service["environment"]["CHATDESK_MEDIA_DIR"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in service["volumes"]}
    assert media_dir in mounts, "photos and files would be lost when the container is recreated"
    assert mounts[media_dir] in compose["volumes"], "a named volume, not a path in the container"
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert f"mkdir -p {media_dir}" in dockerfile  # owned by the app user before the mount
