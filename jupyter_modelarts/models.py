"""The domain vocabulary shared by handlers, backends, magics and the store.

Everything that crosses the REST API is one of these types; ``to_json`` gives the wire form the
OpenAPI document describes, and request parsers raise :class:`InvalidRequest` naming the field.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import time
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------------------------------------
# Errors: each carries its HTTP status, so the handlers map them in one place.


class ModelArtsError(Exception):
    """Base of every error a backend raises on purpose."""

    status = 500
    code = "ModelArts.Internal"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        self.request_id = request_id

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message": self.message,
            "reason": type(self).__name__,
            "code": self.code,
        }
        if self.field:
            body["field"] = self.field
        if self.request_id:
            body["request_id"] = self.request_id
        return body


class InvalidRequest(ModelArtsError):
    """The caller sent something we will not act on (400)."""

    status = 400
    code = "ModelArts.InvalidRequest"


class PayloadTooLarge(ModelArtsError):
    """The request body is larger than any request of this API needs (413)."""

    status = 413
    code = "ModelArts.PayloadTooLarge"


class PermissionDenied(ModelArtsError):
    """The credentials lack an IAM action (403): ``iam_action`` names it, ``agency`` says the
    missing right is ModelArts' agency's (委托) rather than the user's own."""

    status = 403
    code = "ModelArts.PermissionDenied"

    def __init__(self, message: str, *, iam_action: str | None = None, agency: bool = False, **kw):
        super().__init__(message, **kw)
        self.iam_action = iam_action
        self.agency = agency

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        if self.iam_action:
            body["iam_action"] = self.iam_action
            body["agency"] = self.agency
        return body


class NotFound(ModelArtsError):
    """The named resource does not exist (404)."""

    status = 404
    code = "ModelArts.NotFound"


class Conflict(ModelArtsError):
    """The resource exists or is in a state that forbids the request (409)."""

    status = 409
    code = "ModelArts.Conflict"


class UpstreamError(ModelArtsError):
    """The cloud answered with an error we pass on (502)."""

    status = 502
    code = "ModelArts.Upstream"


class BackendUnavailable(ModelArtsError):
    """The backend cannot serve now: not configured, or the cloud is unreachable (503)."""

    status = 503
    code = "ModelArts.Unavailable"


#: The largest request body: a cell of code is the biggest thing a request carries.
MAX_BODY_BYTES = 8 * 1024**2
#: How deep a request body may nest: ours nest three levels; far deeper is an attack or a bug.
MAX_BODY_DEPTH = 32
# What no path, environment entry, argument or file name can hold: NUL, and lone surrogates
# (they cannot be encoded, so they would fail later, far from the request).
_UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff]")


def check_body(value: Any, path: str = "", depth: int = 0) -> None:
    """Refuse a parsed JSON body with NUL or lone surrogates in any key or string, or nested
    deeper than MAX_BODY_DEPTH: a 400 naming the field (``env.A``, ``command[1]``)."""
    if depth > MAX_BODY_DEPTH:
        raise InvalidRequest(
            f"the request body nests deeper than {MAX_BODY_DEPTH} levels", field=path or "body"
        )
    if isinstance(value, str):
        if _UNSAFE_TEXT.search(value):
            raise InvalidRequest(
                f"{path or 'body'} contains a NUL character or an unpaired surrogate",
                field=path or "body",
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else key
            if _UNSAFE_TEXT.search(key):
                raise InvalidRequest(
                    f"a name in {path or 'the body'} contains a NUL character or an unpaired "
                    "surrogate",
                    field=path or "body",
                )
            check_body(item, inner, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_body(item, f"{path}[{index}]", depth + 1)


def now_ms() -> int:
    """Wall-clock time as epoch milliseconds, the unit of every timestamp on the wire."""
    return int(time.time() * 1000)


def _wire(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value):
        return {f.name: _wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return value


class _StrEnum(str, enum.Enum):
    """``enum.StrEnum`` (3.11+) for older Pythons: str() and f-strings give the value."""

    def __str__(self) -> str:
        return self.value


class _Wire:
    def to_json(self) -> dict[str, Any]:
        return _wire(self)


# ---------------------------------------------------------------------------------------------
# Instance, flavors, engines, lease


@dataclass
class Flavor(_Wire):
    id: str
    name: str
    type: str  # CPU | GPU | NPU
    cpu_count: int
    memory_mb: int
    gpu_count: int = 0
    gpu_name: str | None = None
    max_nodes: int = 1


@dataclass
class Engine(_Wire):
    id: str
    name: str
    version: str
    image: str | None = None
    # Local backend: the Python its kernelspec runs (a job's code runs with it); cloud: None.
    interpreter: str | None = None


@dataclass
class Lease(_Wire):
    """Auto-stop state. ``stop_at`` is epoch ms; ``remaining_s`` is computed at read time.
    IDLE: ``duration_s`` is the idle period; ``stop_at`` is the stop if nothing happens from now
    on, null while ``busy`` lists reasons (or where the backend cannot know)."""

    enabled: bool
    type: str = "TIMING"
    duration_s: int | None = None
    renewed_at: int | None = None
    stop_at: int | None = None
    remaining_s: float | None = None
    idle_since: int | None = None
    busy: list[str] | None = None


@dataclass
class Instance(_Wire):
    backend: str
    id: str
    name: str
    status: str
    flavor: Flavor
    image: str | None = None
    lease: Lease | None = None
    #: Local backend: the folder standing for OBS (a bucket is a folder in it); None elsewhere.
    object_store_root: str | None = None


LEASE_MIN_S = 3600
LEASE_MAX_S = 72 * 3600


LEASE_TYPES = ("TIMING", "IDLE")


def parse_lease_type(body: dict[str, Any]) -> str | None:
    """The kind of lease a renewal asks for (``TIMING`` or ``IDLE``), or None to keep it."""
    value = body.get("type")
    if value is None:
        return None
    if value not in LEASE_TYPES:
        raise InvalidRequest(f"type must be TIMING or IDLE, got {value!r}", field="type")
    return value


def parse_lease_duration(body: dict[str, Any]) -> int:
    """The renewal length in seconds from ``{"duration_s": N}``, 1 h to 72 h as ModelArts allows."""
    value = body.get("duration_s")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequest("duration_s must be a number of seconds", field="duration_s")
    if not LEASE_MIN_S <= value <= LEASE_MAX_S:
        raise InvalidRequest(
            f"duration_s must be between {LEASE_MIN_S} (1 h) and {LEASE_MAX_S} (72 h), got {value}",
            field="duration_s",
        )
    return int(value)


# ---------------------------------------------------------------------------------------------
# Mounts


class MountStatus(_StrEnum):
    MOUNTING = "MOUNTING"
    MOUNTED = "MOUNTED"
    MOUNT_FAILED = "MOUNT_FAILED"
    UNMOUNTING = "UNMOUNTING"
    UNMOUNT_FAILED = "UNMOUNT_FAILED"
    UNMOUNTED = "UNMOUNTED"
    # Answered (never stored) for a MOUNTED mount whose folder was deleted or replaced meanwhile.
    BROKEN = "BROKEN"


@dataclass
class Mount(_Wire):
    id: str
    uri: str
    mount_path: str
    status: MountStatus
    category: str = "OBS"
    failure_reason: str | None = None
    # Where the mount is on the machine running Jupyter (the local backend may not own /data/).
    local_path: str | None = None
    created_at: int = field(default_factory=now_ms)
    updated_at: int = field(default_factory=now_ms)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Mount:
        return cls(**{**data, "status": MountStatus(data["status"])})


MAX_PATH_CHARS = 256
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SEGMENT_RE = re.compile(r"[^\x00-\x1f\\]+")


@dataclass(frozen=True)
class ObsUri:
    bucket: str
    key: str  # without leading '/', ends with '/' for a directory

    def __str__(self) -> str:
        return f"obs://{self.bucket}/{self.key}"


def _check_segments(segments: list[str], field_name: str, what: str) -> None:
    for segment in segments:
        if segment in ("", ".", ".."):
            raise InvalidRequest(
                f"{what} must not contain empty, '.' or '..' segments", field=field_name
            )
        if not _SEGMENT_RE.fullmatch(segment):
            raise InvalidRequest(
                f"{what} contains a control character or backslash", field=field_name
            )


def parse_obs_uri(value: Any, field_name: str = "uri", *, directory: bool = True) -> ObsUri:
    """Check an ``obs://bucket/path/`` URI: a directory below the bucket root, no escapes."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest(
            f"{field_name} must be a string like obs://bucket/path/", field=field_name
        )
    if len(value) > MAX_PATH_CHARS:
        raise InvalidRequest(
            f"{field_name} is longer than {MAX_PATH_CHARS} characters", field=field_name
        )
    if not value.startswith("obs://"):
        raise InvalidRequest(f"{field_name} must start with obs://", field=field_name)
    bucket, _, key = value[len("obs://") :].partition("/")
    if not _BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        raise InvalidRequest(
            f"{field_name}: bucket {bucket!r} must be 3-63 lowercase letters, digits, '-' or '.'",
            field=field_name,
        )
    if not key.strip("/"):
        raise InvalidRequest(
            f"{field_name} must name a folder inside the bucket, not the bucket root",
            field=field_name,
        )
    if directory and not key.endswith("/"):
        raise InvalidRequest(
            f"{field_name} must end with '/' (a folder), e.g. obs://{bucket}/{key}/",
            field=field_name,
        )
    _check_segments(key.rstrip("/").split("/"), field_name, field_name)
    return ObsUri(bucket, key)


def parse_mount_path(value: Any, field_name: str = "mount_path") -> str:
    """Check a mount path: ``/data/<name>/`` (deeper folders allowed), at most 256 characters."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{field_name} must be a string like /data/name/", field=field_name)
    if len(value) > MAX_PATH_CHARS:
        raise InvalidRequest(
            f"{field_name} is longer than {MAX_PATH_CHARS} characters", field=field_name
        )
    if not value.startswith("/data/"):
        raise InvalidRequest(
            f"{field_name} must be a folder under /data/, e.g. /data/name/", field=field_name
        )
    if not value.endswith("/"):
        raise InvalidRequest(f"{field_name} must end with '/', e.g. {value}/", field=field_name)
    rest = value[len("/data/") :].rstrip("/")
    if not rest:
        raise InvalidRequest(
            f"{field_name} must be a sub-folder of /data/, not /data/ itself", field=field_name
        )
    _check_segments(rest.split("/"), field_name, field_name)
    # One spelling per folder ('/data/a//' is '/data/a/'), so overlap checks compare like with like.
    return f"/data/{rest}/"


# ---------------------------------------------------------------------------------------------
# Images


class ImageStatus(_StrEnum):
    INIT = "INIT"
    CREATING = "CREATING"
    ACTIVE = "ACTIVE"
    CREATE_FAILED = "CREATE_FAILED"


_WORKSPACE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: The workspace every ModelArts project has, and records made before workspaces were kept.
DEFAULT_WORKSPACE = "0"


def parse_workspace_id(value: Any, field_name: str = "workspace_id") -> str | None:
    """A workspace id as a request gives it, None when absent or null."""
    if value is None:
        return None
    if not isinstance(value, str) or not _WORKSPACE_ID_RE.fullmatch(value):
        raise InvalidRequest(
            f"{field_name} must be 1-64 letters, digits, '-' or '_'", field=field_name
        )
    return value


@dataclass
class ImageSnapshot(_Wire):
    id: str
    name: str
    tag: str
    namespace: str
    status: ImageStatus
    description: str = ""
    status_message: str = ""
    bytes_done: int = 0
    bytes_total: int = 0
    size_bytes: int | None = None
    location: str | None = None  # where the image lives: an archive path or an SWR path
    workspace_id: str = DEFAULT_WORKSPACE
    created_at: int = field(default_factory=now_ms)
    updated_at: int = field(default_factory=now_ms)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> ImageSnapshot:
        return cls(**{**data, "status": ImageStatus(data["status"])})


_IMAGE_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")
_IMAGE_TAG_RE = re.compile(r"[A-Za-z0-9._-]+")
_NAMESPACE_RE = re.compile(r"[a-z][A-Za-z0-9._-]*")


@dataclass
class ImageRequest:
    name: str
    tag: str
    namespace: str
    description: str = ""
    workspace_id: str | None = None  # None: the current workspace

    @classmethod
    def from_json(cls, body: dict[str, Any], default_namespace: str) -> ImageRequest:
        """Validate as ModelArts does (``ImageCreateReq``): lowercase name, tag, SWR namespace."""
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("name is required", field="name")
        if len(name) > 128 or not _IMAGE_NAME_RE.fullmatch(name):
            raise InvalidRequest(
                "name must be at most 128 lowercase letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit",
                field="name",
            )
        tag = body.get("tag", "latest")
        if not isinstance(tag, str) or not tag or len(tag) > 64 or not _IMAGE_TAG_RE.fullmatch(tag):
            raise InvalidRequest(
                "tag must be at most 64 letters, digits, '-', '_' or '.'", field="tag"
            )
        namespace = body.get("namespace") or default_namespace
        if (
            not isinstance(namespace, str)
            or len(namespace) > 64
            or not _NAMESPACE_RE.fullmatch(namespace)
        ):
            raise InvalidRequest(
                "namespace must be at most 64 letters, digits, '-', '_' or '.', "
                "starting with a lowercase letter",
                field="namespace",
            )
        description = body.get("description", "")
        if not isinstance(description, str) or len(description) > 512:
            raise InvalidRequest(
                "description must be a string of at most 512 characters", field="description"
            )
        workspace_id = parse_workspace_id(body.get("workspace_id"))
        return cls(name, tag, namespace, description, workspace_id)


# ---------------------------------------------------------------------------------------------
# Jobs


class JobPhase(_StrEnum):
    CREATING = "Creating"
    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"
    ABNORMAL = "Abnormal"

    @property
    def is_final(self) -> bool:
        return self in (JobPhase.COMPLETED, JobPhase.FAILED, JobPhase.TERMINATED, JobPhase.ABNORMAL)


MAX_NODES = 16
_JOB_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PARAM_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _str_map(body: dict[str, Any], key: str, name_re: re.Pattern[str]) -> dict[str, str]:
    value = body.get(key) or {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"{key} must be an object of name: value", field=key)
    out: dict[str, str] = {}
    for name, item in value.items():
        if not name_re.fullmatch(name):
            raise InvalidRequest(f"{key}: {name!r} is not a valid name", field=f"{key}.{name}")
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise InvalidRequest(f"{key}.{name} must be a string or number", field=f"{key}.{name}")
        out[name] = str(item)
    return out


@dataclass
class JobSpec(_Wire):
    """What to run. Exactly one of ``code`` (inline boot file), ``code_dir`` + ``boot_file``, or
    ``command`` says what; ``code`` may also sit beside a ``code_dir`` (the cell next to its
    neighbours)."""

    name: str
    code: str | None = None
    code_dir: str | None = None
    boot_file: str | None = None
    command: list[str] | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    nodes: int = 1
    flavor: str | None = None
    engine: str | None = None
    image: str | None = None
    description: str = ""
    workspace_id: str | None = None  # None until the server fills in the current workspace

    @classmethod
    def from_json(cls, body: Any) -> JobSpec:
        if not isinstance(body, dict):
            raise InvalidRequest("the request body must be a JSON object", field="body")
        known = {f.name for f in dataclasses.fields(cls)}
        for key in body:
            if key not in known:
                raise InvalidRequest(f"unknown field {key!r}", field=key)
        name = body.get("name")
        if not isinstance(name, str) or not _JOB_NAME_RE.fullmatch(name):
            raise InvalidRequest("name must be 1-64 letters, digits, '-' or '_'", field="name")
        code = body.get("code")
        if code is not None and not isinstance(code, str):
            raise InvalidRequest("code must be the boot file's source text", field="code")
        code_dir = body.get("code_dir")
        if code_dir is not None and (not isinstance(code_dir, str) or not code_dir):
            raise InvalidRequest("code_dir must be a folder path", field="code_dir")
        boot_file = body.get("boot_file")
        if boot_file is not None:
            if not isinstance(boot_file, str) or not boot_file:
                raise InvalidRequest("boot_file must be a path inside code_dir", field="boot_file")
            if boot_file.startswith("/") or ".." in boot_file.split("/"):
                raise InvalidRequest(
                    "boot_file must be a relative path inside code_dir", field="boot_file"
                )
        command = body.get("command")
        if command is not None:
            if isinstance(command, str):
                command = ["/bin/sh", "-c", command]
            if (
                not isinstance(command, list)
                or not command
                or not all(isinstance(c, str) for c in command)
            ):
                raise InvalidRequest(
                    "command must be a string or a list of strings", field="command"
                )
        kinds = sum(x is not None for x in (code, boot_file, command))
        if kinds == 0:
            raise InvalidRequest(
                "give the job code, a code_dir with a boot_file, or a command", field="code"
            )
        if kinds > 1:
            raise InvalidRequest("give only one of code, boot_file or command", field="code")
        if boot_file is not None and code_dir is None:
            raise InvalidRequest("boot_file needs a code_dir", field="code_dir")
        nodes = body.get("nodes", 1)
        if isinstance(nodes, bool) or not isinstance(nodes, int) or not 1 <= nodes <= MAX_NODES:
            raise InvalidRequest(
                f"nodes must be a whole number from 1 to {MAX_NODES}", field="nodes"
            )
        inputs = _str_map(body, "inputs", _PARAM_NAME_RE)
        outputs = _str_map(body, "outputs", _PARAM_NAME_RE)
        for kind, uris in (("inputs", inputs), ("outputs", outputs)):
            for key, uri in uris.items():
                parse_obs_uri(uri, f"{kind}.{key}")
        env = _str_map(body, "env", _ENV_NAME_RE)
        for key in env:
            if key.startswith("MA_"):
                raise InvalidRequest(
                    "environment names starting with MA_ are reserved by ModelArts",
                    field=f"env.{key}",
                )
        parameters = _str_map(body, "parameters", _PARAM_NAME_RE)
        clash = set(parameters) & (set(inputs) | set(outputs))
        if clash:
            name_ = sorted(clash)[0]
            raise InvalidRequest(
                f"{name_!r} is both a parameter and an input/output", field=f"parameters.{name_}"
            )
        for key in ("flavor", "engine", "image", "description"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise InvalidRequest(f"{key} must be a string", field=key)
        return cls(
            name=name,
            code=code,
            code_dir=code_dir,
            boot_file=boot_file,
            command=command,
            parameters=parameters,
            inputs=inputs,
            outputs=outputs,
            env=env,
            nodes=nodes,
            flavor=body.get("flavor"),
            engine=body.get("engine"),
            image=body.get("image"),
            description=body.get("description") or "",
            workspace_id=parse_workspace_id(body.get("workspace_id")),
        )


@dataclass
class Task(_Wire):
    name: str
    phase: JobPhase
    exit_code: int | None = None
    started_at: int | None = None
    ended_at: int | None = None


@dataclass
class Job(_Wire):
    id: str
    name: str
    backend: str
    phase: JobPhase
    spec: JobSpec
    tasks: list[Task] = field(default_factory=list)
    exit_code: int | None = None
    message: str = ""
    created_at: int = field(default_factory=now_ms)
    started_at: int | None = None
    ended_at: int | None = None

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Job:
        """A job from its store record; the backend's own ``runtime`` bookkeeping is left out."""
        data = {k: v for k, v in data.items() if k != "runtime"}
        spec = JobSpec(**{"workspace_id": DEFAULT_WORKSPACE, **data["spec"]})
        spec.workspace_id = spec.workspace_id or DEFAULT_WORKSPACE
        tasks = [Task(**{**t, "phase": JobPhase(t["phase"])}) for t in data["tasks"]]
        return cls(**{**data, "phase": JobPhase(data["phase"]), "spec": spec, "tasks": tasks})


#: The most characters of a job's message a summary carries (the whole message is in the Job).
SUMMARY_MESSAGE_CHARS = 200
#: How a page of jobs may be ordered, and the default first.
JOB_SORTS = ("created", "name", "phase", "duration")
JOB_ORDERS = ("desc", "asc")


def _short(message: str) -> str:
    if len(message) <= SUMMARY_MESSAGE_CHARS:
        return message
    return message[: SUMMARY_MESSAGE_CHARS - 1] + "…"


@dataclass
class JobSummary(_Wire):
    """A job as lists and events show it: no spec, no code, no tasks; a few hundred bytes."""

    id: str
    name: str
    backend: str
    phase: JobPhase
    flavor: str  # "" when the backend's default was asked for and not recorded
    nodes: int
    exit_code: int | None
    message: str
    created_at: int
    started_at: int | None
    ended_at: int | None
    workspace_id: str

    @classmethod
    def of(cls, job: Job) -> JobSummary:
        return cls(
            id=job.id,
            name=job.name,
            backend=job.backend,
            phase=job.phase,
            flavor=job.spec.flavor or "",
            nodes=job.spec.nodes,
            exit_code=job.exit_code,
            message=_short(job.message),
            created_at=job.created_at,
            started_at=job.started_at,
            ended_at=job.ended_at,
            workspace_id=job.spec.workspace_id or DEFAULT_WORKSPACE,
        )

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> JobSummary:
        """From the store's projection of a job record (see ``SUMMARY_FIELDS``)."""
        return cls(
            id=data["id"],
            name=data["name"],
            backend=data["backend"],
            phase=JobPhase(data["phase"]),
            flavor=data.get("flavor") or "",
            nodes=data.get("nodes") or 1,
            exit_code=data.get("exit_code"),
            message=_short(data.get("message") or ""),
            created_at=data["created_at"],
            started_at=data.get("started_at"),
            ended_at=data.get("ended_at"),
            workspace_id=data.get("workspace_id") or DEFAULT_WORKSPACE,
        )


#: The JSON paths of a job record a summary is made of, so a store reads no spec or code.
SUMMARY_FIELDS = {
    **{
        name: f"$.{name}"
        for name in ("id", "name", "backend", "phase", "exit_code", "message")
        + ("created_at", "started_at", "ended_at")
    },
    "flavor": "$.spec.flavor",
    "nodes": "$.spec.nodes",
    "workspace_id": "$.spec.workspace_id",
}


@dataclass
class JobPage:
    """One page of a job list, and how many jobs the whole list holds."""

    jobs: list[JobSummary]
    total: int


@dataclass
class LogChunk(_Wire):
    """Log bytes of one task from ``offset``; read again from ``next_offset`` to follow."""

    task: str
    offset: int
    next_offset: int
    size: int
    content: str
    complete: bool  # the task has ended and nothing is left past next_offset


def _utf8_length(lead: int) -> int:
    """Bytes of the UTF-8 character starting with ``lead`` (1 for a stray byte)."""
    if 0xC0 <= lead < 0xE0:
        return 2
    if 0xE0 <= lead < 0xF0:
        return 3
    return 4 if 0xF0 <= lead < 0xF8 else 1


def log_piece(data: bytes, limit: int, ended: bool) -> bytes:
    """What a log reader gets of ``data`` (the bytes from its offset on, at least ``limit`` + 3
    of them where there are): at most ``limit`` bytes ending on a character boundary, or, when
    the first character alone is longer than ``limit``, that character, so every read makes
    progress. A character still being written waits for its last bytes unless the log has
    ``ended``."""
    piece = data[:limit]
    cut = len(piece)
    for back in range(1, min(4, len(piece)) + 1):
        byte = piece[-back]
        if byte & 0xC0 == 0x80:
            continue
        if _utf8_length(byte) > back:
            cut = len(piece) - back
        break
    if cut or not data:
        return piece[:cut]
    first = data[: _utf8_length(data[0])]
    return first if len(first) == _utf8_length(data[0]) or ended else b""


#: A task's metrics, named and measured (each in percent) as ModelArts' training-job metrics.
METRICS = ("cpuUsage", "memUsage", "gpuUtil", "gpuMemUsage", "npuUtil", "npuMemUsage")
#: The metrics listed for every task; the others are listed only with points.
BASE_METRICS = ("cpuUsage", "memUsage")


@dataclass
class MetricSeries(_Wire):
    task: str
    metric: str  # one of METRICS
    unit: str  # "%"
    points: list[list[float]] = field(default_factory=list)  # [epoch ms, value >= 0]


@dataclass
class Metrics(_Wire):
    job_id: str
    series: list[MetricSeries] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Workspaces and the checks run before work starts


@dataclass
class Workspace(_Wire):
    """A ModelArts workspace (工作空间): a second gate beside IAM rights."""

    id: str
    name: str
    status: str = "NORMAL"
    description: str = ""


class CheckStatus(_StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"


#: What a check is about, in the order a report shows them.
CHECK_AREAS = ("credentials", "instance", "agency", "obs", "actions", "workspace", "quota", "local")


@dataclass
class Check(_Wire):
    """One thing the work needs: whether it holds, why, and the fix when it does not."""

    id: str  # stable: "credentials", "agency", "obs:<bucket>", "action:<IAM action>", …
    area: str  # one of CHECK_AREAS
    title: str
    status: CheckStatus
    detail: str
    fix: str = ""
    iam_action: str | None = None
    agency: bool = False  # what is missing is the agency's right, not the user's


@dataclass
class DoctorReport(_Wire):
    backend: str
    workspace_id: str
    checked_at: int | None  # when the last run ended; None before the first
    running: bool
    checks: list[Check] = field(default_factory=list)
