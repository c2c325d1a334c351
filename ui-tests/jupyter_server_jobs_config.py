"""Server configuration for the galata test of a long job history: the test configuration on
another port, with 1,000 ended jobs written into its job store before it starts (submitting
them would take longer than the test). `jobs.spec.ts` starts and stops this server itself.
"""

import os
import time

from jupyter_modelarts.models import Job, JobPhase, JobSpec, Task
from jupyter_modelarts.store import Store

load_subconfig("jupyter_server_test_config.py")  # noqa: F821

c.ServerApp.port = 8963  # noqa: F821

_ENDED = (JobPhase.COMPLETED, JobPhase.FAILED, JobPhase.TERMINATED)
_store = Store(os.path.join(c.ModelArtsApp.state_dir, "store.sqlite"))  # noqa: F821
_now = int(time.time() * 1000)
for _i in range(1000):
    _phase = _ENDED[_i % 3]
    _created = _now - (_i + 1) * 60_000
    _started, _ended = _created + 1000, _created + 1000 + (_i % 97) * 1000
    _exit = 0 if _phase is JobPhase.COMPLETED else 1
    _job = Job(
        id=f"history-{_i:04d}",
        name=f"history-{_i:04d}",
        backend="local",
        phase=_phase,
        spec=JobSpec(name=f"history-{_i:04d}", command=["true"], flavor="local.cpu"),
        tasks=[Task("worker-0", _phase, _exit, _started, _ended)],
        exit_code=_exit,
        created_at=_created,
        started_at=_started,
        ended_at=_ended,
    )
    _store.put("job", _job.id, {**_job.to_json(), "runtime": {}})
_store.close()
