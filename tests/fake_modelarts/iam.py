"""Fake IAM (tokens, projects, temporary keys) and the ECS metadata service.

IAM errors use the Keystone shape `{"error": {"code", "title", "message"}}`; the SDK's error parser
finds `code`/`message` in nested dicts.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .common import ApiError, Req, Response, iso_utc, json_response

if TYPE_CHECKING:
    from .server import FakeCloud


@dataclass
class Token:
    value: str
    expires_at: float
    project_id: str | None
    expired: bool = False

    def live(self) -> bool:
        return not self.expired and time.time() < self.expires_at


class IamError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> Response:
        title = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}.get(
            self.status, "Error"
        )
        err = {"error": {"code": self.status, "title": title, "message": self.message}}
        return json_response(self.status, err)


class Iam:
    def __init__(self, cloud: FakeCloud):
        self.cloud = cloud
        self.lock = threading.Lock()
        self.tokens: dict[str, Token] = {}
        self.metadata_tokens: set[str] = set()
        self.domain_id = uuid.uuid4().hex
        self.user_id = uuid.uuid4().hex

    # -- token store -------------------------------------------------------------------------

    def expire_all(self) -> None:
        with self.lock:
            for token in self.tokens.values():
                token.expired = True

    def check_modelarts_token(self, value: str, project_id: str | None) -> Token:
        """Check an X-Auth-Token: 0203 unknown, 0202 expired, 0204 not scoped to `project_id`."""
        with self.lock:
            token = self.tokens.get(value)
        if token is None:
            raise ApiError(401, "ModelArts.0203", "The token is invalid.", generic=True)
        if not token.live():
            raise ApiError(401, "ModelArts.0202", "The token has expired.", generic=True)
        if project_id and token.project_id != project_id:
            raise ApiError(
                401, "ModelArts.0204", "The token must be scoped to this project.", generic=True
            )
        return token

    # -- IAM endpoints -----------------------------------------------------------------------

    def create_token(self, req: Req) -> Response:
        cloud = self.cloud
        try:
            auth = req.body["auth"]
            identity = auth["identity"]
            if "password" not in identity.get("methods", []):
                raise IamError(400, "Only the password method is supported by this fake.")
            user = identity["password"]["user"]
            domain = user.get("domain") or {}
        except (KeyError, TypeError) as exc:
            raise IamError(400, f"The request body is malformed: missing {exc}.") from exc
        if (
            user.get("name") != cloud.iam_user
            or user.get("password") != cloud.iam_password
            or domain.get("name") != cloud.iam_domain
        ):
            raise IamError(401, "The username or password is wrong.")
        project_id = None
        scope = auth.get("scope") or {}
        if "project" in scope:
            project = scope["project"] or {}
            if project.get("name") not in (None, cloud.region) or project.get("id") not in (
                None,
                cloud.project_id,
            ):
                raise IamError(401, "The project in the scope does not exist.")
            project_id = cloud.project_id
        now = time.time()
        value = "MIIF" + secrets.token_urlsafe(96)
        token = Token(value, now + cloud.token_ttl_s, project_id)
        with self.lock:
            self.tokens[value] = token
        body = {
            "expires_at": iso_utc(token.expires_at),
            "issued_at": iso_utc(now),
            "methods": ["password"],
            "user": {
                "id": self.user_id,
                "name": cloud.iam_user,
                "domain": {"id": self.domain_id, "name": cloud.iam_domain},
                "password_expires_at": "",
            },
            "roles": [{"id": "0", "name": "op_fine_grained"}],
        }
        if project_id:
            body["project"] = {
                "id": cloud.project_id,
                "name": cloud.region,
                "domain": {"id": self.domain_id, "name": cloud.iam_domain},
            }
        else:
            body["domain"] = {"id": self.domain_id, "name": cloud.iam_domain}
        if req.query.get("nocatalog") != "true":
            body["catalog"] = [
                {
                    "type": "modelarts",
                    "name": "modelarts",
                    "id": uuid.uuid4().hex,
                    "endpoints": [
                        {
                            "id": uuid.uuid4().hex,
                            "interface": "public",
                            "region": cloud.region,
                            "region_id": cloud.region,
                            "url": cloud.base_url,
                        }
                    ],
                }
            ]
        return json_response(201, {"token": body}, {"X-Subject-Token": value})

    def list_projects(self, req: Req) -> Response:
        cloud = self.cloud
        project = {
            "id": cloud.project_id,
            "name": cloud.region,
            "domain_id": self.domain_id,
            "description": "",
            "enabled": True,
            "is_domain": False,
            "parent_id": self.domain_id,
            "links": {"self": f"{cloud.base_url}/v3/projects/{cloud.project_id}"},
        }
        name = req.query.get("name")
        projects = [project] if name in (None, cloud.region) else []
        return json_response(
            200,
            {
                "projects": projects,
                "links": {"self": f"{cloud.base_url}/v3/projects", "next": None},
            },
        )

    def show_permanent_access_key(self, access_key: str) -> Response:
        """ShowPermanentAccessKey: the user a permanent key belongs to (temporary keys: 404)."""
        if access_key != self.cloud.ak:
            raise IamError(404, "Could not find credential.")
        credential = {
            "user_id": self.user_id,
            "access": access_key,
            "status": "active",
            "create_time": iso_utc(time.time() - 86400),
            "description": "",
        }
        return json_response(200, {"credential": credential})

    def create_security_token(self, req: Req) -> Response:
        try:
            identity = req.body["auth"]["identity"]
            if "token" not in identity.get("methods", []):
                raise IamError(400, "Only the token method is supported by this fake.")
            spec = identity.get("token") or {}
        except (KeyError, TypeError) as exc:
            raise IamError(400, f"The request body is malformed: missing {exc}.") from exc
        value = spec.get("id") or req.headers.get("X-Auth-Token")
        with self.lock:
            token = self.tokens.get(value or "")
        if token is None or not token.live():
            raise IamError(401, "The token is invalid or has expired.")
        duration = spec.get("duration_seconds", 900)
        if isinstance(duration, bool) or not isinstance(duration, int):
            raise IamError(400, "duration_seconds must be an integer.")
        if not 900 <= duration <= 86400:
            raise IamError(400, "duration_seconds must be between 900 and 86400.")
        access, secret, security = self.cloud.temp_keys
        credential = {
            "access": access,
            "secret": secret,
            "securitytoken": security,
            "expires_at": iso_utc(time.time() + duration),
        }
        return json_response(201, {"credential": credential})

    # -- metadata service --------------------------------------------------------------------

    def metadata_token(self, req: Req) -> Response:
        value = secrets.token_urlsafe(32)
        with self.lock:
            self.metadata_tokens.add(value)
        return Response(200, value.encode(), {"Content-Type": "text/plain"})

    def metadata_securitykey(self, req: Req) -> Response:
        sent = req.headers.get("X-Metadata-Token")
        if sent is not None:
            with self.lock:
                known = sent in self.metadata_tokens
            if not known:
                return Response(401, b"Unauthorized", {"Content-Type": "text/plain"})
        access, secret, security = self.cloud.temp_keys
        credential = {
            "access": access,
            "secret": secret,
            "securitytoken": security,
            "expires_at": iso_utc(time.time() + self.cloud.token_ttl_s),
        }
        return json_response(200, {"credential": credential})
