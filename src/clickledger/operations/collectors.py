"""Prometheus collectors turning the process's own counters into series at scrape time.

Nothing here runs on a request path: the front app and the group committers
keep plain totals, and these collectors read them when ``/metrics`` is asked.

Series (all prefixed ``clickledger_``):

- ``http_requests_total{route,method,status}``, ``http_request_duration_seconds{route}``
- ``group_commit_queue_depth{committer}``, ``group_commit_batches_total``,
  ``group_commit_rows_total``, ``group_commit_failed_batches_total``,
  ``group_commit_batch_rows{committer}`` (histogram of rows per committed batch),
  ``group_commit_running{committer}``
- ``outbox_pending``, ``outbox_dead``, ``outbox_oldest_due_age_seconds``,
  ``ingest_lag_seconds_avg{integration,name}``, ``ingest_lag_seconds_max{…}``,
  ``ingest_last_event_age_seconds{…}``, ``metrics_database_up``
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from clickledger.operations.database_gauges import DatabaseGauges
from clickledger.operations.http_metrics import LATENCY_BUCKETS_S, HttpMetrics
from clickledger.store.group_commit import BATCH_ROWS_BUCKETS, GroupCommitter

PREFIX = "clickledger_"


def _cumulative(bounds: Sequence[float], counts: Sequence[int]) -> list[tuple[str, float]]:
    """Prometheus buckets (``le`` → cumulative count) from per-slot counts; last slot +Inf."""
    buckets: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip([*bounds, math.inf], counts, strict=True):
        running += count
        buckets.append(("+Inf" if bound == math.inf else repr(float(bound)), float(running)))
    return buckets


class HttpCollector(Collector):
    """Request counts per route, method and status; latency histograms per route."""

    def __init__(self, metrics: HttpMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            PREFIX + "http_requests", "HTTP requests answered, by route template, method and "
            "status", labels=["route", "method", "status"])
        for (route, method, status), count in list(self._metrics.requests.items()):
            requests.add_metric([route, method, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            PREFIX + "http_request_duration_seconds",
            "Time from the request reaching the app to the handler's return", labels=["route"])
        for route, histogram in list(self._metrics.latency.items()):
            latency.add_metric([route], _cumulative(LATENCY_BUCKETS_S, list(histogram.counts)),
                               sum_value=histogram.sum_s)
        yield latency


class CommitterCollector(Collector):
    """Queue depth and batch sizes of every group committer the process registered."""

    def __init__(self, committers: Iterable[GroupCommitter[Any, Any]]) -> None:
        self._committers = committers

    def collect(self) -> Iterator[Metric]:
        labels = ["committer"]
        depth = GaugeMetricFamily(PREFIX + "group_commit_queue_depth",
                                  "Items waiting for the writer thread", labels=labels)
        running = GaugeMetricFamily(PREFIX + "group_commit_running",
                                    "1 while the writer thread takes work", labels=labels)
        batches = CounterMetricFamily(PREFIX + "group_commit_batches",
                                      "Transactions committed", labels=labels)
        rows = CounterMetricFamily(PREFIX + "group_commit_rows", "Items committed",
                                   labels=labels)
        failed = CounterMetricFamily(PREFIX + "group_commit_failed_batches",
                                     "Batches that failed whole and were retried one by one",
                                     labels=labels)
        sizes = HistogramMetricFamily(PREFIX + "group_commit_batch_rows",
                                      "Items per committed transaction", labels=labels)
        for committer in list(self._committers):
            stats, name = committer.stats, [committer.name]
            depth.add_metric(name, committer.depth)
            running.add_metric(name, 1 if committer.running else 0)
            batches.add_metric(name, stats.batches)
            rows.add_metric(name, stats.rows)
            failed.add_metric(name, stats.failed_batches)
            sizes.add_metric(name, _cumulative(BATCH_ROWS_BUCKETS, list(stats.size_counts)),
                             sum_value=stats.rows)
        yield from (depth, running, batches, rows, failed, sizes)


class DatabaseCollector(Collector):
    """The cached database snapshot: outbox depth, dead letters, ingestion lag."""

    def __init__(self, gauges: DatabaseGauges) -> None:
        self._gauges = gauges

    def collect(self) -> Iterator[Metric]:
        snap = self._gauges.snapshot
        yield GaugeMetricFamily(PREFIX + "metrics_database_up",
                                "1 when the last database read for these gauges worked",
                                value=1 if snap.up else 0)
        yield GaugeMetricFamily(PREFIX + "outbox_pending",
                                "Outbound deliveries waiting (due or scheduled for retry)",
                                value=snap.outbox_pending)
        yield GaugeMetricFamily(PREFIX + "outbox_dead",
                                "Outbound deliveries given up after every retry (dead letters)",
                                value=snap.outbox_dead)
        yield GaugeMetricFamily(PREFIX + "outbox_oldest_due_age_seconds",
                                "How long the oldest due delivery has waited (0 when none)",
                                value=snap.outbox_oldest_due_age_s)
        labels = ["integration", "name"]
        avg = GaugeMetricFamily(PREFIX + "ingest_lag_seconds_avg",
                                "Mean event-time-to-arrival lag, current and previous hour",
                                labels=labels)
        top = GaugeMetricFamily(PREFIX + "ingest_lag_seconds_max",
                                "Largest event-time-to-arrival lag, current and previous hour",
                                labels=labels)
        last = GaugeMetricFamily(PREFIX + "ingest_last_event_age_seconds",
                                 "Seconds since the integration's last accepted event "
                                 "(absent: none in 7 days)", labels=labels)
        for lag in snap.integrations:
            key = [lag.integration_id, lag.name]
            if lag.lag_avg_s is not None:
                avg.add_metric(key, lag.lag_avg_s)
            if lag.lag_max_s is not None:
                top.add_metric(key, lag.lag_max_s)
            if lag.last_event_age_s is not None:
                last.add_metric(key, lag.last_event_age_s)
        yield from (avg, top, last)
