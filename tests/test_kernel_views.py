"""How a cell shows the server's checks and a workspace: text, and HTML that escapes what the
checks say (paths, bucket names and messages come from outside)."""

from jupyter_modelarts.kernel.views import (
    DEFAULT_WORKSPACE,
    DoctorReport,
    checks_summary,
    image_text,
    job_html,
    job_text,
)
from jupyter_modelarts.models import DEFAULT_WORKSPACE as SERVERS_DEFAULT
from jupyter_modelarts.models import Check, CheckStatus
from jupyter_modelarts.models import DoctorReport as ServerReport


def report(*checks):
    """A report as the server sends it (built by the server's own classes)."""
    made = ServerReport("modelarts", "ws-a", 1_700_000_000_000, False, list(checks))
    return made.to_json()


def check(check_id, status, detail="why", **kw):
    title = f"Title of {check_id}"
    return Check(id=check_id, area="obs", title=title, status=status, detail=detail, **kw)


def test_a_check_is_labelled_with_its_id_where_its_title_does_not_say_it():
    labelled = Check("local:objects", "local", "Object store", CheckStatus.PASS, "ok")
    shown = DoctorReport(report(labelled))._repr_mimebundle_()
    assert shown["text/plain"].endswith("\n✓ Object store [local:objects]: ok")
    assert '<code style="opacity:0.75">local:objects</code>' in shown["text/html"]
    action = "action:modelarts:trainJob:get"
    said = Check(action, "actions", "IAM action modelarts:trainJob:get", CheckStatus.PASS, "ok")
    shown = DoctorReport(report(said))._repr_mimebundle_()
    assert shown["text/plain"].endswith("\n✓ IAM action modelarts:trainJob:get: ok")
    assert "<code" not in shown["text/html"]


def test_summary_counts_the_failing_checks_by_id():
    passed, skipped = check("credentials", CheckStatus.PASS), check("x", CheckStatus.SKIPPED)
    failed = [check("agency", CheckStatus.FAIL), check("obs:b", CheckStatus.FAIL)]
    assert checks_summary(report(passed, *failed)) == "2 of 3 checks fail: agency, obs:b"
    assert checks_summary(report(passed, failed[0])) == "1 of 2 checks fails: agency"
    assert checks_summary(report(passed, passed)) == "All 2 checks pass"
    assert checks_summary(report(passed, skipped)) == "1 check passes, 1 skipped"
    assert checks_summary(report(skipped, skipped)) == "0 checks pass, 2 skipped"
    assert checks_summary(report()) == "No checks apply"


def test_report_text_and_html_escape_what_the_checks_say():
    bad = check(
        "obs:<b>",
        CheckStatus.FAIL,
        detail='cannot write "<probe>" & delete it',
        fix="Grant obs:object:PutObject\non <b>",
    )
    skipped = check("agency", CheckStatus.SKIPPED, detail="no right to read authorizations")
    shown = DoctorReport(report(bad, skipped))._repr_mimebundle_()
    assert shown["text/plain"].splitlines()[1:] == [
        '✗ Title of obs:<b>: cannot write "<probe>" & delete it',
        "    Fix: Grant obs:object:PutObject",
        "on <b>",
        "– Title of agency: no right to read authorizations",
    ]
    page = shown["text/html"]
    assert "Title of obs:&lt;b&gt;<br>" in page
    assert "cannot write &quot;&lt;probe&gt;&quot; &amp; delete it" in page
    assert "<b>Fix:</b> Grant obs:object:PutObject<br>on &lt;b&gt;" in page
    # Colours from the theme, with a fallback for frontends without its variables.
    assert "var(--jp-error-color1,#d32f2f)" in page and "<script" not in page


def test_a_job_or_image_names_its_workspace_unless_it_is_the_default():
    assert DEFAULT_WORKSPACE == SERVERS_DEFAULT
    job = {"id": "j1", "name": "n", "phase": "Pending", "spec": {"workspace_id": "ws-a"}}
    assert job_text(job).startswith("Job n (j1) in workspace ws-a: Pending\n")
    assert "<span>in workspace ws-a</span>" in job_html(job, [])
    job["spec"]["workspace_id"] = "0"
    assert job_text(job).startswith("Job n (j1): Pending\n")
    assert "workspace" not in job_html(job, [])
    image = {
        "id": "i1",
        "namespace": "ns",
        "name": "img",
        "tag": "1",
        "status": "ACTIVE",
        "status_message": "",
        "bytes_done": 0,
        "bytes_total": 0,
        "workspace_id": "ws-a",
    }
    assert image_text(image) == "Image ns/img:1 in workspace ws-a: ACTIVE"
