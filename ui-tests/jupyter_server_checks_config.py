"""Server configuration for the galata test of the checks and workspaces: the test
configuration on another port, with a second workspace for the picker and an image size limit
no disk has room for, so that the local backend's `local:disk` check fails. `checks.spec.ts`
starts and stops this server itself (the failing check must not reach the other specs).
"""

load_subconfig("jupyter_server_test_config.py")  # noqa: F821

c.ServerApp.port = 8964  # noqa: F821
c.LocalBackend.workspaces = [  # noqa: F821
    {"id": "0", "name": "default"},
    {"id": "team-b", "name": "team-b", "description": "the second team"},
]
c.LocalBackend.image_size_limit = 2**60  # noqa: F821
