"""Prometheus metrics, one registry per app so that tests can run several apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "chatdesk_http_requests_total",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "chatdesk_http_request_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.inbound = Counter(
            "chatdesk_inbound_total",
            "Inbound callbacks by platform and outcome (stored, duplicate, rejected)",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.outbound = Counter(
            "chatdesk_outbox_rows_total",
            "Outbox rows handled by the relay",
            ["outcome"],
            registry=self.registry,
        )
        self.stream_connected = Gauge(
            "chatdesk_dingtalk_stream_connected",
            "1 while the DingTalk Stream connection is open",
            registry=self.registry,
        )
        self.stream_reconnects = Counter(
            "chatdesk_dingtalk_stream_reconnects_total",
            "DingTalk Stream connections opened after the first",
            registry=self.registry,
        )
        self.stream_frames = Counter(
            "chatdesk_dingtalk_stream_frames_total",
            "DingTalk Stream frames by topic and outcome (stored, duplicate, rejected, failed)",
            ["topic", "outcome"],
            registry=self.registry,
        )
