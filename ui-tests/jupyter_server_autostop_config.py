"""Server configuration for the auto-stop galata test: the test configuration on another port,
with a lease short enough (90 s) that the one-minute save of open documents happens during the
test. `autostop.spec.ts` starts and stops this server itself.
"""

load_subconfig("jupyter_server_test_config.py")  # noqa: F821

c.ServerApp.port = 8961  # noqa: F821
c.LocalBackend.auto_stop_duration = 90.0  # noqa: F821
