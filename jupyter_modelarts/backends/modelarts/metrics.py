"""Per-task resource metrics of a training job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...models import Metrics, MetricSeries, now_ms

if TYPE_CHECKING:
    from . import ModelArtsBackend


class JobMetrics:
    """ShowTrainingJobMetrics for each task of a job."""

    def __init__(self, cloud: ModelArtsBackend):
        self.cloud = cloud

    async def get_metrics(self, job_id: str) -> Metrics:
        job = await self.cloud.get_job(job_id)
        series: list[MetricSeries] = []
        units = {"cpuUsage": "%", "memUsage": "MiB"}
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
            now = now_ms()
            for metric in (data or {}).get("metrics", []):
                values = metric.get("value") or []
                # One value per minute, the last one now.
                points = [
                    [now - (len(values) - 1 - i) * 60_000, float(v)]
                    for i, v in enumerate(values)
                    if v is not None
                ]
                name = metric.get("metric", "")
                series.append(MetricSeries(task.name, name, units.get(name, ""), points))
        return Metrics(job_id=job_id, series=series)
