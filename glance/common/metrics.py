"""The service's Prometheus metrics, one ``Metrics`` object per app (no module-level state).

Per process: each ``glance-api`` process counts what it served; ``GET /metrics`` answers for
the process that took the scrape. With several worker processes, set the environment
variable ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory writable by all of them (before
the server starts): prometheus-client then keeps the values in files there, and every
scrape reports the sum over the workers (gauges: over the live ones).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

# seconds: from a cached read to a slow multi-GiB transfer
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0, 60.0, 300.0, float("inf"))
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """The counters, gauges and histograms of one server, and their exposition."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "glance_http_requests", "HTTP requests answered, by route template, method and "
            "status (499: the client went away first).", ["route", "method", "status"],
            registry=registry)
        self.request_seconds = Histogram(
            "glance_http_request_duration_seconds", "Time to answer a request, body "
            "included.", ["route", "method"], buckets=LATENCY_BUCKETS, registry=registry)
        self.bytes_uploaded = Counter(
            "glance_bytes_uploaded", "Bytes of request bodies received as image data.",
            registry=registry)
        self.bytes_downloaded = Counter(
            "glance_bytes_downloaded", "Bytes of image data sent.", registry=registry)
        self.transfers = Gauge(
            "glance_transfers_in_flight", "Image data transfers in progress, by direction.",
            ["direction"], registry=registry, multiprocess_mode="livesum")
        self.store_operations = Counter(
            "glance_store_operations", "Calls of a store, by store and operation.",
            ["store", "operation"], registry=registry)
        self.store_errors = Counter(
            "glance_store_errors", "Store calls that failed in the store (not a missing key, "
            "not the client's fault), by store and operation.", ["store", "operation"],
            registry=registry)
        self.store_seconds = Histogram(
            "glance_store_operation_duration_seconds", "Time of a store call (a read: the "
            "whole stream).", ["store", "operation"], buckets=LATENCY_BUCKETS,
            registry=registry)
        self.registry_seconds = Histogram(
            "glance_registry_duration_seconds", "Time of a registry call (one transaction, "
            "thread hand-off included), by registry method.", ["operation"],
            buckets=LATENCY_BUCKETS, registry=registry)
        self.registry_errors = Counter(
            "glance_registry_errors", "Registry calls that raised something other than the "
            "answers NotFound / Conflict, by registry method.", ["operation"],
            registry=registry)
        self.recovery_actions = Counter(
            "glance_recovery_actions", "What recovery did after stopped processes, by "
            "action.", ["action"], registry=registry)
        for direction in ("upload", "download"):
            self.transfers.labels(direction)

    def store_call(self, store: str, operation: str, seconds: float, failed: bool) -> None:
        """Record one store call (the Store base class calls it)."""
        self.store_operations.labels(store, operation).inc()
        self.store_seconds.labels(store, operation).observe(seconds)
        if failed:
            self.store_errors.labels(store, operation).inc()

    def registry_call(self, operation: str, seconds: float, failed: bool) -> None:
        self.registry_seconds.labels(operation).observe(seconds)
        if failed:
            self.registry_errors.labels(operation).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text format (body, content type): this process's metrics, or all workers'
        in multiprocess mode."""
        if os.environ.get(MULTIPROCESS_ENV):
            combined = CollectorRegistry()
            MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
            return generate_latest(combined), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
