"""Per-task resource metrics of a training job."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ...models import BASE_METRICS, METRICS, Metrics, MetricSeries, now_ms

if TYPE_CHECKING:
    from . import ModelArtsBackend

_MINUTE_MS = 60_000


def _points(values: list[Any], last_at: int) -> list[list[float]]:
    """One value a minute, the last at ``last_at``; ModelArts' -1 (no data) is no point."""
    points = []
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if value >= 0 and math.isfinite(value):
            points.append([last_at - (len(values) - 1 - i) * _MINUTE_MS, float(value)])
    return points


class JobMetrics:
    """ShowTrainingJobMetrics for each task of a job."""

    def __init__(self, cloud: ModelArtsBackend):
        self.cloud = cloud

    async def get_metrics(self, job_id: str) -> Metrics:
        job = await self.cloud.get_job(job_id)
        series: list[MetricSeries] = []
        for task in job.tasks:
            data = await self.cloud.poll.get(
                ("metrics", job_id, task.name),
                lambda task=task: self.cloud.call(
                    "GET",
                    f"/v2/{{p}}/training-jobs/{job_id}/metrics/{task.name}",
                    "job_metrics",
                    idempotent=True,
                ),
            )
            values = {
                m.get("metric"): m.get("value") or [] for m in (data or {}).get("metrics", [])
            }
            last_at = task.ended_at or job.ended_at or now_ms()
            for name in METRICS:
                points = _points(values.get(name, []), last_at)
                if points or name in BASE_METRICS:
                    series.append(MetricSeries(task.name, name, "%", points))
        return Metrics(job_id=job_id, series=series)
