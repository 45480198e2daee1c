"""DingTalk Stream mode in the app: start the SDK connection, feed it the durable inbox write,
and show its state in /metrics and /readyz."""

from __future__ import annotations

import logging
from functools import partial

from bot.dingtalk.adapter import DingtalkAdapter
from bot.dingtalk.stream import DingtalkStream, StreamState
from webhooks.bootstrap import Services
from webhooks.metrics import Metrics
from webhooks.receive import store_inbound

log = logging.getLogger(__name__)


class MetricsObserver:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._seen = 0

    def state_changed(self, state: StreamState) -> None:
        self.metrics.stream_connected.set(1 if state.connected else 0)
        if state.connections > max(self._seen, 1):
            self.metrics.stream_reconnects.inc(state.connections - max(self._seen, 1))
        self._seen = max(self._seen, state.connections)

    def frame(self, topic: str, outcome: str) -> None:
        self.metrics.stream_frames.labels(topic, outcome).inc()


def start_dingtalk_stream(services: Services, adapter: DingtalkAdapter) -> DingtalkStream:
    """Open the Stream connection in the background; it reconnects until the app stops."""
    client = DingtalkStream(
        adapter,
        partial(store_inbound, services, "dingtalk"),
        observer=MetricsObserver(services.metrics),
    )
    client.run_in_background()
    services.streams["dingtalk"] = client  # stopped first by close_services
    return client


def stream_checks(services: Services) -> dict[str, str]:
    """/readyz lines: ``connected``, ``connecting`` (within the grace) or ``disconnected``."""
    checks: dict[str, str] = {}
    client = services.streams.get("dingtalk")
    if isinstance(client, DingtalkStream):
        state = client.state
        if state.connected:
            checks["dingtalk_stream"] = "ok"
        elif state.ready(client.settings.stream_ready_grace_s):
            checks["dingtalk_stream"] = "ok (connecting)"
        else:
            checks["dingtalk_stream"] = "disconnected"
    return checks
