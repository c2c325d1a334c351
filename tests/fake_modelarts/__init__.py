"""A test fake of Huawei Cloud ModelArts, IAM, OBS and the ECS metadata service (see server.py)."""

from .server import Call, FakeCloud

__all__ = ["Call", "FakeCloud"]
