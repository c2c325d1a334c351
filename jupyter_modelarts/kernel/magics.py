"""The %%ma_train, %ma_train, %ma_mount, %ma_unmount, %ma_lease and %ma_image magics."""

from __future__ import annotations

import argparse
import datetime
import keyword
import os
import re
import shlex
import sys
import time
import uuid
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.display import display, update_display

from .client import Client, ModelArtsError
from .i18n import N_, _, follow
from .jobs import Job, JobFailed, install_one_line_errors
from .views import (
    IMAGE_ENDED,
    WIDGET_MIME,
    DoctorReport,
    clock,
    image_bundle,
    in_unit,
    in_workspace,
    lease_bundle,
    when,
    widget_view,
    widgets_available,
)

#: How long a lease renewal may be (the server enforces the same bounds).
LEASE_MIN_S = 3600
LEASE_MAX_S = 72 * 3600
#: How long %ma_doctor waits for the checks: longer than the server lets a run take
#: (c.ModelArtsApp.doctor_timeout_s), so the cell shows the report and not a timeout.
DOCTOR_TIMEOUT_S = 300.0

HELP = N_("""\
jupyter_modelarts magics (add -h to any of them for its options):
  %ma_doctor [--refresh]        whether credentials, agency, OBS, rights and workspace allow work
  %%ma_train [options]          run the cell as a training job (--follow, --no-wait, --as NAME)
  %ma_train list [--limit N]    the newest jobs (--workspace ID: of another workspace)
  %ma_train engines             what jobs can run on; default: this kernel's own Python
  %ma_train status ID           the job, live
  %ma_train logs ID [--task worker-1] [--follow]
  %ma_train stop ID             stop a job;  %ma_train delete ID  forget an ended one
  %ma_mount obs://bucket/path/ /data/name/   mount an OBS folder;  %ma_mount list
  %ma_unmount /data/name/       remove a mount (the data stays in OBS)
  %ma_lease                     the auto-stop lease;  %ma_lease renew 4h [--idle|--timing]
  %ma_image save name:tag [--namespace ns] [--wait]   save this instance as an image
  %ma_image status ID [--wait]  progress of an image save;  %ma_image list  the saved images
  %ma_workspace                 the workspaces, and the current one;  %ma_workspace use ID""")


class _Help(Exception):
    """-h was given: argparse already printed the help."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in the cell instead of exiting the kernel."""

    def error(self, message: str):
        raise UsageError(_("{prog}: {message} (see {prog} -h)", prog=self.prog, message=message))

    def exit(self, status: int = 0, message: str | None = None):
        if message:
            raise UsageError(message.rstrip())
        raise _Help


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(_("expected NAME=VALUE, got {text}", text=repr(text)))
    return name, value


def _parse(parser: _Parser, line: str) -> argparse.Namespace | None:
    try:
        return parser.parse_args(shlex.split(line))
    except ValueError as error:  # unbalanced quotes
        parser.error(str(error))
    except _Help:
        return None


def parse_duration(text: str) -> float:
    """'4h', '90m', '2h30m', '1d' or a bare number of hours → seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text) * 3600
    parts = re.findall(r"(\d+(?:\.\d+)?)([dhms])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(
            _("cannot read {text} as a duration; write e.g. 4h, 90m or 2h30m", text=repr(text))
        )
    unit = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return sum(float(n) * unit[u] for n, u in parts)


def duration_unit(text: str) -> str:
    """The unit a duration was written in, to answer in it: the first one given, else hours."""
    found = re.search(r"[dhms]", text.strip().lower())
    return found.group() if found else "h"


def _workspace_id(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text):
        raise argparse.ArgumentTypeError(
            _("expected a workspace id (1-64 letters, digits, - or _), got {text}", text=repr(text))
        )
    return text


def _add_workspace(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--workspace",
        type=_workspace_id,
        metavar="ID",
        help=_("{what} (default: the current one; %%ma_workspace lists them)", what=what),
    )


def _identifier(text: str) -> str:
    if not text.isidentifier() or keyword.iskeyword(text):
        raise argparse.ArgumentTypeError(_("{text} is not a Python name", text=repr(text)))
    return text


def _train_cell_parser() -> _Parser:
    parser = _Parser(prog="%%ma_train", description=_("Run the cell as a training job."))
    parser.add_argument("--name", help=_("job name (letters, digits, - and _)"))
    parser.add_argument("--flavor", help=_("flavor id (see the sidebar); default: the backend's"))
    parser.add_argument("--nodes", type=int, default=1, help=_("number of workers (default 1)"))
    runtime = parser.add_mutually_exclusive_group()
    runtime.add_argument(
        "--engine",
        help=_(
            "engine id (%%ma_train engines lists them); default: this kernel's own Python "
            "where the backend offers it, else the backend's default"
        ),
    )
    runtime.add_argument("--image", help=_("custom image (ModelArts backend)"))
    parser.add_argument(
        "--param",
        type=_pair,
        action="append",
        default=[],
        metavar="K=V",
        help=_("a parameter, passed to the code as --K=V (repeatable)"),
    )
    parser.add_argument(
        "--input",
        type=_pair,
        action="append",
        default=[],
        metavar="NAME=obs://…/",
        help=_("an OBS folder to read, passed as --NAME=<local folder> (repeatable)"),
    )
    parser.add_argument(
        "--output",
        type=_pair,
        action="append",
        default=[],
        metavar="NAME=obs://…/",
        help=_("an OBS folder written at the end, passed as --NAME=<local folder> (repeatable)"),
    )
    parser.add_argument(
        "--env",
        type=_pair,
        action="append",
        default=[],
        metavar="K=V",
        help=_("an environment variable (repeatable)"),
    )
    parser.add_argument(
        "--code-dir",
        default=None,
        help=_("folder snapshotted beside the cell (default: the notebook's folder)"),
    )
    wait = parser.add_mutually_exclusive_group()
    wait.add_argument("--no-wait", action="store_true", help=_("submit only; show nothing"))
    wait.add_argument(
        "--follow",
        action="store_true",
        help=_("print the log until the job ends; the cell fails if the job does"),
    )
    parser.add_argument(
        "--as",
        dest="name_as",
        type=_identifier,
        metavar="NAME",
        help=_("also bind the job's handle to this name"),
    )
    _add_workspace(parser, _("the workspace to run in"))
    return parser


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 500:
        raise argparse.ArgumentTypeError(
            _("expected a number from 1 to 500, got {text}", text=repr(text))
        )
    return int(text)


def _train_line_parser() -> _Parser:
    parser = _Parser(prog="%ma_train", description=_("List, inspect, follow and stop jobs."))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help=_("the newest jobs"))
    listing.add_argument("--limit", type=_limit, default=20, help=_("how many (default 20)"))
    _add_workspace(listing, _("the workspace whose jobs to list"))
    commands.add_parser("engines", help=_("what a job can run on (--engine)"))
    commands.add_parser("status", help=_("the job, live")).add_argument("id")
    logs = commands.add_parser("logs", help=_("a task's log"))
    logs.add_argument("id")
    logs.add_argument("--task", default="worker-0")
    logs.add_argument("--follow", action="store_true", help=_("print until the job ends"))
    commands.add_parser("stop", help=_("stop a job")).add_argument("id")
    commands.add_parser("delete", help=_("forget an ended job and its logs")).add_argument("id")
    return parser


@magics_class
class ModelArtsMagics(Magics):
    """Magics that call the jupyter_modelarts REST API of the server that started this kernel."""

    def __init__(self, shell, client: Client):
        super().__init__(shell)
        self.client = client
        self._own_engine: str | None = None
        self._engines_run_here: bool | None = None  # False on a cloud backend
        self._lease_displays: list[str] = []
        self._lease_widget: Any = None
        install_one_line_errors(shell)

    def own_engine(self) -> str | None:
        """The engine that runs this kernel's own Python (so a job sees the packages the cell
        saw), when the backend offers one; else None (the backend's default)."""
        if self._engines_run_here is None:
            here = os.path.abspath(sys.executable)
            engines = self.client.engines()
            self._engines_run_here = any(e.get("interpreter") for e in engines)
            self._own_engine = next(
                (
                    e["id"]
                    for e in engines
                    if e.get("interpreter") and _same_interpreter(e["interpreter"], here)
                ),
                None,
            )
        return self._own_engine

    @line_magic
    def ma_help(self, line: str = "") -> None:
        """List the jupyter_modelarts magics."""
        follow(self.client)
        print(_(HELP))

    @line_magic
    def ma_doctor(self, line: str = "") -> DoctorReport | None:
        """%ma_doctor [--refresh]: the server's checks of what the work needs, with the fixes."""
        follow(self.client)
        parser = _Parser(
            prog="%ma_doctor",
            description=_(
                "Whether credentials, agency, OBS, IAM rights and workspace allow the "
                "work: the checks the server ran at start, each with why and the fix."
            ),
        )
        parser.add_argument("--refresh", action="store_true", help=_("run the checks again now"))
        args = _parse(parser, line)
        if args is None:
            return None
        return DoctorReport(self.client.doctor(refresh=args.refresh, timeout=DOCTOR_TIMEOUT_S))

    @line_magic
    def ma_workspace(self, line: str = "") -> None:
        """%ma_workspace: the workspaces and the current one; %ma_workspace use ID."""
        follow(self.client)
        parser = _Parser(
            prog="%ma_workspace",
            description=_(
                "List the workspaces (工作空间), or make another the current one: jobs "
                "are submitted, images saved and both listed there."
            ),
        )
        commands = parser.add_subparsers(dest="command", metavar="COMMAND")
        commands.add_parser("list", help=_("the workspaces, the current one marked (the default)"))
        use = commands.add_parser("use", help=_("make a workspace the current one"))
        use.add_argument("id", type=_workspace_id, metavar="ID")
        args = _parse(parser, line)
        if args is None:
            return
        if args.command != "use":
            listing = self.client.workspaces()
            rows = [
                (
                    w["id"] + (" *" if w["id"] == listing["current"] else ""),
                    w["name"],
                    w["status"],
                    w["description"],
                )
                for w in listing["workspaces"]
            ]
            _table(
                (_("ID"), _("NAME"), _("STATUS"), _("DESCRIPTION")),
                rows,
                empty=_("No workspaces."),
            )
            print(_("* the current one; %ma_workspace use ID picks another"))
            return
        try:
            workspace = self.client.use_workspace(args.id)
        except ModelArtsError as error:
            if error.status in (400, 404):
                error.message = _(
                    "cannot use workspace {id} (field {field}): {message}; %ma_workspace "
                    "lists the ones you may use",
                    id=repr(args.id),
                    field=error.field or "id",
                    message=error.message,
                )
            raise
        print(
            _(
                "Current workspace: {id} ({name}); jobs and images go there unless --workspace "
                "names another",
                id=workspace["id"],
                name=workspace["name"],
            )
        )

    @line_cell_magic
    def ma_train(self, line: str, cell: str | None = None) -> Job | None:
        """%%ma_train [options]: the cell as a job; %ma_train list|status|logs|stop|delete."""
        follow(self.client)
        if cell is None:
            return self._train_line(line)
        args = _parse(_train_cell_parser(), line)
        if args is None:
            return None
        spec = {
            "name": args.name or datetime.datetime.now().strftime("notebook-%Y%m%d-%H%M%S"),
            "code": cell,
            "code_dir": os.path.abspath(args.code_dir or os.getcwd()),
            "nodes": args.nodes,
            "flavor": args.flavor,
            "engine": args.engine or (None if args.image else self.own_engine()),
            "image": args.image,
            "parameters": dict(args.param),
            "inputs": dict(args.input),
            "outputs": dict(args.output),
            "env": dict(args.env),
            "workspace_id": args.workspace,
        }
        if spec["engine"] is None and not args.image and self._engines_run_here:
            print(
                _(
                    "Note: this kernel's Python ({python}) is not among the backend's "
                    "engines; the job runs on its default (%ma_train engines lists them).",
                    python=sys.executable,
                ),
                file=sys.stderr,
            )
        job = Job(self.client, self.client.submit(spec))
        if args.name_as:
            self.shell.user_ns[args.name_as] = job
        if args.no_wait:
            print(
                _(
                    "Submitted job {id} ({phase}); %ma_train status {id}",
                    id=job.id,
                    phase=job._job["phase"],
                )
            )
            job._shown_in = self.shell.execution_count
        elif args.follow:
            display(job)  # above the log, redrawn as the job goes
            job.follow()
        return job

    def _train_line(self, line: str) -> Job | None:
        args = _parse(_train_line_parser(), line)
        if args is None:
            return None
        if args.command == "list":
            page = self.client.jobs(limit=args.limit, workspace_id=args.workspace)
            rows = [
                (j["id"], j["name"], j["phase"], str(j["nodes"]), when(j["created_at"]))
                for j in page["jobs"]
            ]
            where = _listed_in(args.workspace, page["jobs"])
            if where and rows:
                print(_("Jobs{where}:", where=where))
            _table(
                (_("ID"), _("NAME"), _("PHASE"), _("NODES"), _("CREATED")),
                rows,
                empty=_("No jobs{where} yet.", where=where),
            )
            more = page["total"] - len(rows)
            if more > 0:
                print(
                    _(
                        "… and {count} older (%ma_train list --limit N shows up to 500; the "
                        "ModelArts panel lists them all)",
                        count=more,
                    )
                )
            return None
        if args.command == "engines":
            mine = self.own_engine()
            rows = [
                (
                    e["id"] + (" *" if e["id"] == mine else ""),
                    e["name"],
                    e["version"],
                    e.get("interpreter") or e.get("image") or "",
                )
                for e in self.client.engines()
            ]
            _table((_("ID"), _("NAME"), _("VERSION"), _("RUNS")), rows, empty=_("No engines."))
            if mine:
                print(_("* this kernel's own Python: the default for %%ma_train"))
            return None
        job = Job(self.client, self.client.job(args.id))
        if args.command == "logs":
            if args.follow:
                try:
                    job.follow(args.task)
                except JobFailed:  # reading a log is no failure of this cell
                    message = job._job["message"]
                    print(f"[{job.id}] {job._job['phase']}" + (f": {message}" if message else ""))
            else:
                print(job.logs(args.task), end="")
            return None
        if args.command == "stop":
            try:
                print(_("Job {id}: {phase}", id=job.id, phase=job.stop()))
            except ModelArtsError as error:
                if error.status == 409:
                    error.message = _(
                        "job {id} already ended ({phase}); nothing to stop. "
                        "Delete it with: %ma_train delete {id}",
                        id=job.id,
                        phase=job.status(),
                    )
                raise
            return None
        if args.command == "delete":
            try:
                self.client.delete(job.id)
            except ModelArtsError as error:
                if error.status == 409:
                    error.message = _(
                        "job {id} is {phase}; stop it first: %ma_train stop {id}",
                        id=job.id,
                        phase=job.status(),
                    )
                raise
            print(_("Deleted job {id} and its logs", id=job.id))
            return None
        return job  # status: shown live

    @line_magic
    def ma_mount(self, line: str) -> None:
        """%ma_mount obs://bucket/path/ /data/name/ | %ma_mount list."""
        follow(self.client)
        parser = _Parser(prog="%ma_mount", description=_("Mount an OBS folder under /data/."))
        parser.add_argument("uri", metavar="obs://bucket/path/|list")
        parser.add_argument("mount_path", nargs="?", metavar="/data/name/")
        args = _parse(parser, line)
        if args is None:
            return
        if args.uri == "list":
            mounts = self.client.mounts()
            rows = [
                (m["mount_path"], m["uri"], m["status"], m["failure_reason"] or "") for m in mounts
            ]
            _table((_("PATH"), _("URI"), _("STATUS"), _("REASON")), rows, empty=_("No mounts."))
            for m in mounts:
                if _elsewhere(m):
                    print(f"{m['mount_path']}{_elsewhere(m)}")
            return
        if not args.mount_path:
            parser.error(_("the following arguments are required: /data/name/"))
        mount = self._settle(self.client.create_mount(args.uri, args.mount_path), "MOUNTING")
        if mount is None or mount["status"] != "MOUNTED":
            reason = (mount or {}).get("failure_reason") or _("it did not settle")
            raise ModelArtsError(_("mounting {uri} failed: {reason}", uri=args.uri, reason=reason))
        print(
            _(
                "Mounted {uri} at {path}{elsewhere}",
                uri=mount["uri"],
                path=mount["mount_path"],
                elsewhere=_elsewhere(mount),
            )
        )

    @line_magic
    def ma_unmount(self, line: str) -> None:
        """%ma_unmount /data/name/: remove a mount; the data stays in OBS."""
        follow(self.client)
        parser = _Parser(prog="%ma_unmount", description=_("Remove a mount."))
        parser.add_argument("mount_path", metavar="/data/name/")
        args = _parse(parser, line)
        if args is None:
            return
        wanted = args.mount_path.rstrip("/") + "/"
        found = [m for m in self.client.mounts() if m["mount_path"].rstrip("/") + "/" == wanted]
        if not found:
            raise ModelArtsError(
                _("nothing is mounted at {path}; see %ma_mount list", path=args.mount_path)
            )
        mount = self._settle(self.client.delete_mount(found[0]["id"]), "UNMOUNTING")
        if mount is not None and mount["status"] != "UNMOUNTED":
            raise ModelArtsError(
                _(
                    "unmounting {path} failed: {reason}",
                    path=wanted,
                    reason=mount["failure_reason"],
                )
            )
        print(_("Unmounted {path}", path=wanted))

    def _settle(self, mount: dict[str, Any], busy: str, timeout: float = 60) -> dict | None:
        """Poll a mount until it leaves ``busy``; None once it is gone."""
        deadline = time.monotonic() + timeout
        while mount["status"] == busy and time.monotonic() < deadline:
            time.sleep(0.1)
            try:
                mount = self.client.mount(mount["id"])
            except ModelArtsError as error:
                if error.status == 404:
                    return None
                raise
        return mount

    @line_magic
    def ma_lease(self, line: str) -> None:
        """%ma_lease: the auto-stop countdown; %ma_lease renew 4h [--idle|--timing]: renew it
        (1 h to 72 h), as a fixed time or as a stop after that long idle."""
        follow(self.client)
        parser = _Parser(prog="%ma_lease", description=_("Show or renew the auto-stop lease."))
        parser.add_argument("command", nargs="?", choices=["renew"])
        parser.add_argument("duration", nargs="?", help=_("1h to 72h, e.g. 4h or 90m"))
        kinds = parser.add_mutually_exclusive_group()
        kinds.add_argument(
            "--idle",
            dest="kind",
            action="store_const",
            const="IDLE",
            help=_("stop after the duration without activity"),
        )
        kinds.add_argument(
            "--timing",
            dest="kind",
            action="store_const",
            const="TIMING",
            help=_("stop the duration from now (a fixed time)"),
        )
        args = _parse(parser, line)
        if args is None:
            return
        if args.command != "renew":
            if args.kind:
                parser.error(_("--idle and --timing go with renew, e.g. %ma_lease renew 4h --idle"))
            display_id = uuid.uuid4().hex
            self._lease_displays.append(display_id)
            display(self._lease_bundle(self.client.lease()), raw=True, display_id=display_id)
            return
        if not args.duration:
            parser.error(_("renew needs a duration, e.g. %ma_lease renew 4h"))
        try:
            seconds = parse_duration(args.duration)
        except ValueError as error:
            parser.error(str(error))
        unit = duration_unit(args.duration)
        if seconds > LEASE_MAX_S:
            parser.error(
                _(
                    "a lease lasts at most {most}; {asked} is too long",
                    most=in_unit(LEASE_MAX_S, unit),
                    asked=in_unit(seconds, unit),
                )
            )
        if seconds < LEASE_MIN_S:
            parser.error(
                _(
                    "a lease lasts at least {least}; {asked} is too short",
                    least=in_unit(LEASE_MIN_S, unit),
                    asked=in_unit(seconds, unit),
                )
            )
        lease = self.client.renew_lease(seconds, args.kind)
        if lease["type"] == "IDLE":
            print(
                _(
                    "Lease renewed: the instance stops after {span} idle",
                    span=in_unit(seconds, unit),
                )
            )
        else:
            print(
                _(
                    "Lease renewed for {span}: the instance stops at {time}",
                    span=in_unit(seconds, unit),
                    time=clock(lease["stop_at"]),
                )
            )
        bundle = self._lease_bundle(lease)
        for display_id in self._lease_displays:
            update_display(bundle, raw=True, display_id=display_id)

    def _lease_bundle(self, lease: dict[str, Any]) -> dict[str, Any]:
        """The lease's MIME bundle, with the one lease widget of this kernel where it runs."""
        bundle = lease_bundle(lease)
        if widgets_available():
            from .widgets import LeaseWidget

            if self._lease_widget is None or self._lease_widget.comm is None:
                self._lease_widget = LeaseWidget()
            with self._lease_widget.hold_sync():
                self._lease_widget.enabled = lease["enabled"]
                self._lease_widget.stop_at = lease["stop_at"]
                self._lease_widget.lease_type = lease["type"]
                self._lease_widget.note = "" if lease["stop_at"] else bundle["text/plain"]
            bundle[WIDGET_MIME] = widget_view(self._lease_widget)
        return bundle

    @line_magic
    def ma_image(self, line: str) -> None:
        """%ma_image save name:tag [--namespace ns] | %ma_image status ID | %ma_image list."""
        follow(self.client)
        parser = _Parser(prog="%ma_image", description=_("Save this instance as an image."))
        commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
        save = commands.add_parser("save", help=_("save this instance as name:tag"))
        save.add_argument("ref", metavar="name[:tag]")
        save.add_argument("--namespace", default=None)
        _add_workspace(save, _("the workspace to save it in"))
        status = commands.add_parser("status", help=_("progress of an image save"))
        status.add_argument("id")
        for sub in (save, status):
            sub.add_argument(
                "--wait",
                action="store_true",
                help=_("wait until it is ACTIVE (fails if the save does)"),
            )
        listing = commands.add_parser("list", help=_("the images saved from this instance"))
        _add_workspace(listing, _("the workspace whose images to list"))
        args = _parse(parser, line)
        if args is None:
            return
        if args.command == "list":
            images = self.client.images(args.workspace)
            rows = [
                (
                    i["id"],
                    f"{i['namespace']}/{i['name']}:{i['tag']}",
                    i["status"],
                    when(i["created_at"]),
                )
                for i in images
            ]
            where = _listed_in(args.workspace, images)
            if where and rows:
                print(_("Images{where}:", where=where))
            _table(
                (_("ID"), _("IMAGE"), _("STATUS"), _("CREATED")),
                rows,
                empty=_("No images{where} yet.", where=where),
            )
            return
        if args.command == "save":
            name, _sep, tag = args.ref.partition(":")
            image = self.client.save_image(name, tag or "latest", args.namespace, args.workspace)
        else:
            image = self.client.image(args.id)
        display_id = uuid.uuid4().hex
        display(image_bundle(image), raw=True, display_id=display_id)
        if args.wait:
            self._wait_image(image, display_id)

    def _wait_image(self, image: dict[str, Any], display_id: str) -> None:
        """Redraw the image's display until its save ends; a failed save fails the cell."""
        ref = f"{image['namespace']}/{image['name']}:{image['tag']}"
        try:
            while image["status"] not in IMAGE_ENDED:
                time.sleep(0.5)
                latest = self.client.image(image["id"])
                if latest != image:
                    image = latest
                    update_display(image_bundle(image), raw=True, display_id=display_id)
        except KeyboardInterrupt:
            raise ModelArtsError(
                _(
                    "stopped waiting; the save of {ref} goes on ({status}). "
                    "See it with: %ma_image status {id}",
                    ref=ref,
                    status=image["status"],
                    id=image["id"],
                )
            ) from None
        if image["status"] != "ACTIVE":
            raise ModelArtsError(
                _(
                    "saving {ref} failed: {reason}",
                    ref=ref,
                    reason=image["status_message"] or _("no reason given"),
                )
            )


def _listed_in(asked: str | None, items: list[dict[str, Any]]) -> str:
    """`` in workspace X`` for a list of another workspace than the default one: the one asked
    for, else the one its items are in (the current one)."""
    return in_workspace(asked or (items[0]["workspace_id"] if items else None))


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], empty: str) -> None:
    if not rows:
        print(empty)
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _elsewhere(mount: dict[str, Any]) -> str:
    """Where a mount really is on this machine, when that is not its /data/ path."""
    local = mount.get("local_path")
    if local and local.rstrip("/") != mount["mount_path"].rstrip("/"):
        return _(" (on this machine: {path})", path=local)
    return ""


def _same_interpreter(a: str, b: str) -> bool:
    """Same folder and same file: a venv's python is a link to its base Python, so comparing
    resolved paths alone would take any venv of that Python for this one."""
    try:
        return os.path.dirname(os.path.abspath(a)) == os.path.dirname(b) and os.path.samefile(a, b)
    except OSError:
        return False
