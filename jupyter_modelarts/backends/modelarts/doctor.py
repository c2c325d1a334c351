"""The checks of what work on ModelArts needs, each bounded in time and independent.

ModelArts gates every feature by an IAM action, needs an agency (委托) per user and region to
reach OBS and SWR on the user's behalf, and workspaces add a gate of their own. An agency that
lacks a right fails only when the work needs it, so these checks look before work starts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ...i18n import N_
from ...models import (
    DEFAULT_WORKSPACE,
    Check,
    CheckStatus,
    InvalidRequest,
    ModelArtsError,
    NotFound,
    PermissionDenied,
    parse_obs_uri,
)
from .auth import Credentials, ModelArtsAuth
from .client import NotAuthenticated, permission_fix

if TYPE_CHECKING:
    from . import ModelArtsBackend

#: Seconds one check may take; a slower upstream fails that check, not the run.
CHECK_TIMEOUT_S = 20.0
#: ``user_id`` of an authorization ModelArts made for every user of the account.
ALL_USERS = "all-users"
GLOBAL_CONFIG = N_(
    "ModelArts console → 全局配置 (Global Configuration) → 添加授权 (Add Authorization)"
)
STRICT_MODE = N_(
    "In strict authorization mode (严格授权模式, set in 全局配置) a sub-user may use only the "
    "ModelArts actions granted explicitly"
)
#: What the probe objects are called, after the checked prefix.
PROBE_NAME = ".jupyter-modelarts-probe-"
#: The OBS action each probe step needs.
OBS_STEPS = (
    ("list", "obs:bucket:ListBucket"),
    ("write", "obs:object:PutObject"),
    ("read", "obs:object:GetObject"),
    ("delete", "obs:object:DeleteObject"),
)


@dataclass
class Feature:
    """An IAM action a feature needs, and a read call that shows it where one exists."""

    action: str
    feature: str
    read: Callable[[], Awaitable[Any]] | None = None
    needs_instance: bool = False


class Doctor:
    def __init__(self, cloud: ModelArtsBackend):
        self.cloud = cloud

    async def run(self, workspace_id: str) -> list[Check]:
        """Every check, all at once (each bounded, so a run takes at most two bounds: the
        buckets and the verdicts are found first), in the order shown."""
        groups = await asyncio.gather(
            self._bounded("credentials", "credentials", N_("Credentials"), self._credentials),
            self._bounded("instance", "instance", N_("Notebook instance"), self._instance),
            self._bounded("agency", "agency", N_("ModelArts agency (委托)"), self._agency),
            self._obs_checks(),
            self._actions(workspace_id),
            self._bounded(
                "workspace", "workspace", N_("Workspace"), lambda: self._workspace(workspace_id)
            ),
            self._bounded("quota:training", "quota", N_("Training job quota"), self._quota),
        )
        return [
            check for group in groups for check in (group if isinstance(group, list) else [group])
        ]

    async def _bounded(
        self, check_id: str, area: str, title: str, check: Callable[[], Awaitable[Check]]
    ) -> Check:
        try:
            return await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        except asyncio.TimeoutError:
            return Check(
                check_id,
                area,
                title,
                CheckStatus.FAIL,
                f"no answer within {CHECK_TIMEOUT_S:.0f} s; ModelArts or the network is slow",
                fix="run the checks again; if this persists, check the endpoints and network",
            )
        except Exception as err:  # one failing check never ends the run
            fix = ""
            if isinstance(err, PermissionDenied) and err.iam_action:
                fix = permission_fix(err.iam_action, err.agency)
            # An error's message is translated as errors are; an unforeseen one is kept.
            detail = getattr(err, "message", None) or f"{type(err).__name__}: {err}"
            return Check(
                check_id,
                area,
                title,
                CheckStatus.FAIL,
                detail,
                fix=fix,
                iam_action=getattr(err, "iam_action", None),
                agency=bool(getattr(err, "agency", False)),
            )

    def _where(self) -> str:
        project = self.cloud._project or self.cloud.project_id
        return N_(f"project {project}, region {self.cloud.region}")

    # -- credentials, instance, agency -----------------------------------------------------

    async def _credentials(self) -> Check:
        def check(status: CheckStatus, detail: str, fix: str = "") -> Check:
            return Check("credentials", "credentials", "Credentials", status, detail, fix)

        await self.cloud.client()
        await self.cloud.credentials.get()
        # Read before the call: a refusal makes the chain forget the credentials it used.
        source = self.cloud.credentials.source() or N_("unknown source")
        try:
            await self.cloud.call(
                "GET",
                "/v1/{p}/workspaces",
                "workspace_list",
                idempotent=True,
                params={"limit": 1},
            )
        except NotAuthenticated as err:
            return check(
                CheckStatus.FAIL,
                f"ModelArts did not accept the credentials from {source} ({err.code}); "
                f"{self._where()}",
                "check the access key and its secret (or the IAM user's password), and that the "
                "project id belongs to the region",
            )
        except (PermissionDenied, NotFound):
            pass  # authenticated: the refusal is about workspaces, checked on its own below
        return check(
            CheckStatus.PASS, f"credentials from {source}, accepted by ModelArts; {self._where()}"
        )

    async def _instance(self) -> Check:
        def check(status: CheckStatus, detail: str, fix: str = "") -> Check:
            return Check("instance", "instance", "Notebook instance", status, detail, fix)

        if not self.cloud.instance_id:
            return check(
                CheckStatus.SKIPPED,
                "no notebook instance configured (INSTANCE_ID is set inside ModelArts "
                "notebooks): lease, mounts and image saving need one",
                "set c.ModelArtsBackend.instance_id to use them from outside ModelArts",
            )
        instance = await self.cloud.get_instance()
        return check(
            CheckStatus.PASS,
            f"instance {instance.name} ({self.cloud.instance_id}) is {instance.status}",
        )

    async def identity(self) -> tuple[str, str] | None:
        """(IAM user id, name; name may be "") of the credentials, None when nothing tells."""
        if self.cloud.instance_id:
            try:
                data = await self.cloud.notebook.raw()
            except ModelArtsError:
                data = {}
            user = data.get("user") or {}
            if user.get("id"):
                return str(user["id"]), str(user.get("name") or "")
        if self.cloud.credentials.user:
            return self.cloud.credentials.user
        keys = await self.cloud.credentials.get()
        if isinstance(keys, Credentials) and not keys.security_token:
            return await self._key_owner(keys.ak)
        return None

    async def _key_owner(self, access_key: str) -> tuple[str, str] | None:
        """The user a permanent access key belongs to, as IAM's ShowPermanentAccessKey says."""
        url = f"{self.cloud.iam_endpoint.rstrip('/')}/v3.0/OS-CREDENTIAL/credentials/{access_key}"
        auth = ModelArtsAuth(self.cloud.credentials, None)
        async with httpx.AsyncClient(timeout=self.cloud.request_timeout, auth=auth) as http:
            response = await http.get(url)
        if response.status_code != 200:
            return None
        user_id = ((response.json() or {}).get("credential") or {}).get("user_id")
        return (str(user_id), "") if user_id else None

    async def _agency(self) -> Check:
        def check(status: CheckStatus, detail: str, fix: str = "") -> Check:
            return Check(
                "agency",
                "agency",
                "ModelArts agency (委托)",
                status,
                detail,
                fix,
                iam_action=None if status is CheckStatus.PASS else "modelarts:authorization:list",
                agency=status is CheckStatus.FAIL,
            )

        identity = await self.identity()
        who = (identity[1] or identity[0]) if identity else N_("this user")
        fix = N_(f"{GLOBAL_CONFIG}, for user {who} in {self.cloud.region}")
        try:
            entries = await self._authorizations()
        except PermissionDenied:
            return check(
                CheckStatus.SKIPPED,
                "only an administrator can list ModelArts' authorizations, and these "
                "credentials may not: ask the administrator to verify that "
                f"{who} (or all users) has an agency in {self.cloud.region}",
                fix,
            )
        agencies = [a for a in entries if a.get("type") == "agency"]
        for entry in agencies:
            if entry.get("user_id") == ALL_USERS:
                return check(
                    CheckStatus.PASS,
                    f"agency {entry.get('content')} is configured for all users in "
                    f"{self.cloud.region}",
                )
            if identity and identity[0] == entry.get("user_id"):
                return check(
                    CheckStatus.PASS,
                    f"agency {entry.get('content')} is configured for {who} in {self.cloud.region}",
                )
        if identity is None and agencies:
            users = ", ".join(
                sorted({str(a.get("user_name") or a.get("user_id")) for a in agencies})
            )
            return check(
                CheckStatus.SKIPPED,
                "could not tell which IAM user these credentials are; agencies are configured "
                f"for {users}",
                fix,
            )
        return check(
            CheckStatus.FAIL,
            f"no agency for {who} in {self.cloud.region}: training, image saving and mounts "
            "fail when ModelArts needs to reach OBS or SWR on the user's behalf",
            fix,
        )

    async def _authorizations(self) -> list[dict[str, Any]]:
        return await self.cloud.list_all("/v2/{p}/authorizations", "authorizations", "auth", {})

    # -- OBS --------------------------------------------------------------------------------

    async def _obs_checks(self) -> list[Check]:
        buckets = await self._buckets()
        return list(
            await asyncio.gather(
                *(
                    self._bounded(
                        f"obs:{bucket}",
                        "obs",
                        N_(f"OBS bucket {bucket}"),
                        lambda b=bucket, p=prefix, w=why: self._obs(b, p, w),
                    )
                    for bucket, prefix, why in buckets
                )
            )
        )

    async def _buckets(self) -> list[tuple[str, str, str]]:
        """(bucket, prefix, why it is used) of code_uri, the configured folders and every
        mounted bucket, once each."""
        found: dict[str, tuple[str, str]] = {}
        configured = [(self.cloud.code_uri, "code_uri", N_("job code (code_uri)"))] + [
            (uri, "check_obs_uris", N_("configured in check_obs_uris"))
            for uri in self.cloud.check_obs_uris
        ]
        for uri, name, why in configured:
            if not uri:
                continue
            try:
                folder = parse_obs_uri(uri, name)
            except InvalidRequest:
                continue  # the setting's own use says what is wrong with it
            found.setdefault(folder.bucket, (folder.key, why))
        if self.cloud.instance_id:
            try:
                mounts = await asyncio.wait_for(self.cloud.list_mounts(), CHECK_TIMEOUT_S)
            except Exception:  # the mounts action check shows why the list failed
                mounts = []
            for mount in mounts:
                try:
                    uri = parse_obs_uri(mount.uri)
                except InvalidRequest:
                    continue
                found.setdefault(uri.bucket, (uri.key, N_(f"mounted at {mount.mount_path}")))
        return [(bucket, prefix, why) for bucket, (prefix, why) in found.items()]

    async def _obs(self, bucket: str, prefix: str, why: str) -> Check:
        obs = self.cloud.obs
        probes = f"{prefix}{PROBE_NAME}"
        key = f"{probes}{uuid.uuid4().hex}"
        results: dict[str, str] = {}
        earlier: list[str] = []  # probes a run cut short (or without delete rights) left
        failed: list[tuple[str, str]] = []

        async def step(name: str, action: str, call: Callable[[], Awaitable[Any]]) -> None:
            try:
                await call()
                results[name] = N_("ok")
            except PermissionDenied:
                results[name] = N_("denied")
                failed.append((name, action))
            except ModelArtsError as err:
                results[name] = N_(f"failed ({err.code})")
                failed.append((name, action))

        async def list_probes() -> None:
            # Only the probes' names: listing all of code_uri could take thousands of pages.
            earlier.extend(entry.key for entry in await obs.list_entries(bucket, probes))

        await step("list", OBS_STEPS[0][1], list_probes)
        await step("write", OBS_STEPS[1][1], lambda: obs.put_object(bucket, key, b"probe"))
        if results["write"] == "ok":
            await step("read", OBS_STEPS[2][1], lambda: obs.get_object(bucket, key))
            await step("delete", OBS_STEPS[3][1], lambda: obs.delete_object(bucket, key))
        else:
            results["read"] = results["delete"] = N_("not tried (nothing written)")
        # Written out (not joined) so that it is one message to translate, step by step.
        summary = N_(
            f"list {results['list']}, write {results['write']}, read {results['read']}, "
            f"delete {results['delete']}"
        )
        where = f"obs://{bucket}/{prefix}"
        if not failed:
            removed = await self._remove_probes(bucket, earlier)
            also = N_(f" with {removed} left by an earlier check") if removed else ""
            return Check(
                f"obs:{bucket}",
                "obs",
                f"OBS bucket {bucket}",
                CheckStatus.PASS,
                f"{where} ({why}): {summary}; the probe object was removed{also}",
            )
        actions = ", ".join(action for _, action in failed)  # IAM action names: data
        # Each case its own message: a template with two placeholders side by side would not
        # tell where the first ends when the server translates it.
        if results.get("delete") == "ok":
            detail = N_(f"{where} ({why}): {summary}")
        else:
            detail = N_(f"{where} ({why}): {summary} (the probe object is left behind)")
        return Check(
            f"obs:{bucket}",
            "obs",
            f"OBS bucket {bucket}",
            CheckStatus.FAIL,
            detail,
            f"grant {actions} on bucket {bucket} to this user (an IAM policy with OBS rights, "
            "or the bucket's policy)",
            iam_action=failed[0][1],
        )

    async def _remove_probes(self, bucket: str, keys: list[str]) -> int:
        """Delete probe objects earlier checks left; how many went (one that will not go stays
        for the next run)."""
        removed = 0
        for key in keys:
            try:
                await self.cloud.obs.delete_object(bucket, key)
            except ModelArtsError as err:
                self.cloud.log.info("could not remove obs://%s/%s: %s", bucket, key, err.message)
                continue
            removed += 1
        return removed

    # -- IAM actions ------------------------------------------------------------------------

    def _features(self, workspace_id: str) -> list[Feature]:
        cloud = self.cloud
        return [
            Feature(
                "modelarts:notebook:get",
                N_("reading the instance and its lease"),
                cloud.notebook.raw,
                needs_instance=True,
            ),
            Feature(
                "modelarts:notebook:updateStopPolicy", N_("renewing the lease"), needs_instance=True
            ),
            Feature(
                "modelarts:notebook:listMountedStorages",
                N_("listing mounts"),
                cloud.storage.list_mounts,
                needs_instance=True,
            ),
            Feature("modelarts:notebook:mountStorage", N_("mounting OBS"), needs_instance=True),
            Feature("modelarts:notebook:umountStorage", N_("unmounting OBS"), needs_instance=True),
            Feature(
                "modelarts:image:list",
                N_("listing saved images"),
                lambda: cloud.call(
                    "GET",
                    "/v1/{p}/images",
                    "image_list",
                    idempotent=True,
                    params={"type": "DEDICATED", "limit": 1, "workspace_id": workspace_id},
                ),
            ),
            Feature("modelarts:image:create", N_("saving the image"), needs_instance=True),
            Feature("modelarts:trainJob:create", N_("submitting training jobs")),
            Feature("modelarts:trainJob:get", N_("following a training job")),
            Feature(
                "modelarts:trainJob:list",
                N_("listing training jobs"),
                lambda: cloud.call(
                    "POST",
                    "/v2/{p}/training-job-searches",
                    "job_list",
                    idempotent=True,
                    json={"offset": 0, "limit": 1, "workspace_id": workspace_id},
                ),
            ),
            Feature("modelarts:trainJob:delete", N_("deleting training jobs")),
        ]

    async def _actions(self, workspace_id: str) -> list[Check]:
        features = self._features(workspace_id)
        try:
            verdicts = await asyncio.wait_for(
                self._validate(features, workspace_id), CHECK_TIMEOUT_S
            )
        except Exception:  # refused or unavailable: each action is shown its own way
            verdicts = None
        checks = []
        for feature in features:
            checks.append(
                await self._bounded(
                    f"action:{feature.action}",
                    "actions",
                    N_(f"IAM action {feature.action}"),
                    lambda f=feature: self._action(f, verdicts, workspace_id),
                )
            )
        return checks

    async def _validate(self, features: list[Feature], workspace_id: str) -> dict[str, str]:
        """ModelArts' verdict (allow or deny) on each action, in the workspace."""
        requests = [{"action_id": str(uuid.uuid4()), "action": f.action} for f in features]
        data = await self.cloud.call(
            "POST",
            f"/v1/{{p}}/workspaces/{workspace_id}/auth",
            "validate",
            idempotent=True,  # asks, changes nothing
            json={"requests": requests},
        )
        return {
            r.get("action"): str(r.get("verdict") or "").lower()
            for r in (data or {}).get("results") or []
        }

    async def _action(
        self, feature: Feature, verdicts: dict[str, str] | None, workspace_id: str
    ) -> Check:
        def check(status: CheckStatus, detail: str, fix: str = "") -> Check:
            return Check(
                f"action:{feature.action}",
                "actions",
                f"IAM action {feature.action}",
                status,
                detail,
                fix,
                iam_action=feature.action,
            )

        grant = N_(
            f"ask the account administrator to grant {feature.action} to this user (IAM → user "
            f"groups → a policy with it, for {self._where()})"
        )
        if feature.needs_instance and not self.cloud.instance_id:
            return check(CheckStatus.SKIPPED, f"{feature.feature} needs a notebook instance")
        verdict = (verdicts or {}).get(feature.action)
        if verdict == "allow":
            return check(
                CheckStatus.PASS,
                f"ModelArts allows {feature.action} ({feature.feature}) in workspace "
                f"{workspace_id}",
            )
        if verdict == "deny":
            return check(
                CheckStatus.FAIL,
                f"ModelArts denies {feature.action} ({feature.feature}) in workspace "
                f"{workspace_id}. {STRICT_MODE}, so this is the likely cause when the user is "
                "an IAM sub-user; otherwise a Deny policy or a missing workspace grant",
                grant,
            )
        if feature.read is None:
            return check(
                CheckStatus.SKIPPED,
                f"ModelArts could not be asked whether this user may {feature.action}, and it "
                f"has no read call to try: the first time {feature.feature}, the user needs it",
                f"make sure {feature.action} is granted",
            )
        try:
            await feature.read()
        except PermissionDenied:
            return check(
                CheckStatus.FAIL,
                f"ModelArts refused {feature.feature}: the user lacks {feature.action}. "
                f"{STRICT_MODE}",
                grant,
            )
        return check(CheckStatus.PASS, f"{feature.feature} works, so the user has {feature.action}")

    # -- workspace and quota ----------------------------------------------------------------

    async def _workspace(self, workspace_id: str) -> Check:
        def check(status: CheckStatus, detail: str, fix: str = "") -> Check:
            return Check("workspace", "workspace", "Workspace", status, detail, fix)

        try:
            data = await self.cloud.workspaces.show(workspace_id)
        except (NotFound, PermissionDenied) as err:
            if workspace_id == DEFAULT_WORKSPACE and isinstance(err, NotFound):
                return check(
                    CheckStatus.PASS,
                    "workspaces are not enabled for this account (they are invitation-only): "
                    "all work is in the default workspace",
                )
            if isinstance(err, NotAuthenticated):
                raise
            kind = (
                N_("does not exist")
                if isinstance(err, NotFound)
                else N_("is not granted to this user")
            )
            return check(
                CheckStatus.FAIL,
                f"workspace {workspace_id} {kind} ({err.code})",
                "pick another workspace, or ask the workspace's owner to grant this user access "
                "(ModelArts console → 工作空间 (Workspaces) → the workspace → 授权 users)",
            )
        grants = data.get("grants") or []
        public = data.get("auth_type") == "PUBLIC"
        access = N_("open to every user") if public else N_(f"{len(grants)} user(s) granted")
        return check(
            CheckStatus.PASS,
            f"workspace {data.get('name') or workspace_id} ({workspace_id}) is "
            f"{data.get('status') or 'NORMAL'}, {access}",  # the status is ModelArts' word
        )

    async def _quota(self) -> Check:
        def check(status: CheckStatus, detail: str, fix: str = "") -> Check:
            return Check("quota:training", "quota", "Training job quota", status, detail, fix)

        try:
            data = await self.cloud.call(
                "GET",
                "/v2/{p}/training-quotas",
                "training_quotas",
                idempotent=True,
                params={"resource": "job-num"},
            )
        except PermissionDenied as err:
            if isinstance(err, NotAuthenticated):
                raise
            return check(
                CheckStatus.SKIPPED,
                f"these credentials may not read the training quota ({err.iam_action})",
            )
        for quota in (data or {}).get("quotas") or []:
            if quota.get("resource") != "job-num":
                continue
            limit, used = int(quota.get("quota", -1)), int(quota.get("used") or 0)
            if limit < 0:
                return check(CheckStatus.PASS, f"no limit on training jobs ({used} running)")
            left = limit - used
            if left <= 0:
                return check(
                    CheckStatus.FAIL,
                    f"all {limit} training jobs of the quota are in use: a new job is refused",
                    "stop or delete a training job, or ask for a higher quota (ModelArts console "
                    "→ 全局配置, or a service ticket)",
                )
            return check(CheckStatus.PASS, f"{left} of {limit} training jobs left")
        return check(CheckStatus.SKIPPED, "ModelArts reported no training job quota")
