"""How the magics show a job, an image save and the lease: live widgets where the kernel has
ipywidgets 8, readable text everywhere else (a bare kernel environment, nbconvert, a terminal).
"""

from __future__ import annotations

import datetime
from typing import Any

from .client import Client

FINAL_PHASES = ("Completed", "Failed", "Terminated", "Abnormal")


def widgets_available() -> bool:
    """True when ipywidgets 8 (what the views are written for) imports in this kernel."""
    try:
        import ipywidgets
    except ImportError:
        return False
    major = ipywidgets.__version__.split(".")[0]
    return major.isdigit() and int(major) >= 8


def duration(seconds: float) -> str:
    """``h:mm:ss`` from an hour on, ``m:ss`` below."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def when(epoch_ms: int | None) -> str:
    if not epoch_ms:
        return "-"
    return datetime.datetime.fromtimestamp(epoch_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def elapsed_s(job: dict[str, Any], now_ms: float) -> float:
    started = job.get("started_at")
    return ((job.get("ended_at") or now_ms) - started) / 1000 if started else 0.0


class JobText:
    """A job as text: what it is, its phase and tasks, and how to follow it."""

    def __init__(self, job: dict[str, Any]):
        self.job = job

    def __repr__(self) -> str:
        job = self.job
        now = datetime.datetime.now().timestamp() * 1000
        lines = [
            f"Job {job['name']} ({job['id']}): {job['phase']}, "
            f"elapsed {duration(elapsed_s(job, now))}"
        ]
        lines += [f"  {t['name']}: {t['phase']}" for t in job["tasks"]]
        if job.get("message"):
            lines.append(f"  {job['message']}")
        if job["phase"] not in FINAL_PHASES:
            lines.append(f"Follow it with: %ma_train logs {job['id']} --follow")
        return "\n".join(lines)


class ImageText:
    """An image save as text: its reference, state and progress."""

    def __init__(self, image: dict[str, Any]):
        self.image = image

    def __repr__(self) -> str:
        image = self.image
        ref = f"{image['namespace']}/{image['name']}:{image['tag']}"
        progress = ""
        if image["status"] not in ("ACTIVE", "CREATE_FAILED") and image["bytes_total"]:
            progress = f" {100 * image['bytes_done'] // image['bytes_total']}%"
        text = f"Image {ref}: {image['status']}{progress}"
        if image["status_message"]:
            text += f" ({image['status_message']})"
        if image["status"] not in ("ACTIVE", "CREATE_FAILED"):
            text += f"\nSee it again with: %ma_image status {image['id']}"
        return text


class LeaseText:
    """The auto-stop lease as text."""

    def __init__(self, lease: dict[str, Any]):
        self.lease = lease

    def __repr__(self) -> str:
        lease = self.lease
        if not lease["enabled"]:
            return "Auto-stop is off on this instance."
        return (
            f"Auto-stop in {duration(lease['remaining_s'] or 0)} (at {when(lease['stop_at'])}); "
            "renew with %ma_lease renew 4h"
        )


def job_view(client: Client, job: dict[str, Any]) -> Any:
    if widgets_available():
        from .widgets import JobWidget

        return JobWidget(client, job)
    return JobText(job)


def image_view(client: Client, image: dict[str, Any]) -> Any:
    if widgets_available():
        from .widgets import ImageProgress

        return ImageProgress(client, image)
    return ImageText(image)


def lease_view(lease: dict[str, Any]) -> Any:
    if widgets_available():
        from .widgets import LeaseCountdown

        return LeaseCountdown.from_lease(lease)
    return LeaseText(lease)
