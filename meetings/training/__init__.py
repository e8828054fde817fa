"""Training (培训) features on top of meetings: replay watch time that counts toward completion,
the organiser's completion report per county, town and village, and the course page.

Depends on meetings and office only. Models live in meetings/training/models.py and are loaded
by meetings/models.py (app label "meetings"); writers are in meetings/training/actions.py.
"""
