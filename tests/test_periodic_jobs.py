"""The suite's own periodic jobs run every registered job; a failing job does not stop the others."""
from io import StringIO

from django.core.management import call_command

from office import scheduler


def test_it_runs_every_registered_job_once(seed_small):
    out = StringIO()
    call_command("run_jobs", "--once", stdout=out)
    text = out.getvalue()
    assert "documents.reminders.run_reminders: 0" in text
    assert "meetings.actions.send_reminders: 0" in text


def test_it_keeps_going_when_one_job_fails(seed_small):
    calls = []

    def broken():
        raise RuntimeError("boom")

    results = scheduler.run_once([("broken", broken), ("fine", lambda: calls.append(1) or 1)])
    assert results["broken"].startswith("error:") and results["fine"] == 1 and calls == [1]
