"""seed_demo builds the organisation with a progress bar, prints the logins, and is idempotent."""
from io import StringIO

import pytest
from django.core.management import call_command

from office.models import Person, Post, Unit


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_it_builds_a_small_tree_and_prints_the_demo_logins():
    out, err = run("--size", "small")
    assert "100.0%" in err  # the progress bar
    assert "city_secretary" in out and "Demo-2026!" in out
    kinds = set(Unit.objects.values_list("kind", flat=True))
    assert kinds == {"city", "county", "town", "village", "department"}
    assert Post.objects.filter(is_secretary=True, unit__kind="village").exists()


@pytest.mark.django_db
def test_it_duplicates_nothing_when_run_twice():
    run("--size", "small")
    counts = (Unit.objects.count(), Person.objects.count(), Post.objects.count())
    out, _ = run("--size", "small")
    assert (Unit.objects.count(), Person.objects.count(), Post.objects.count()) == counts
    assert "新建单位 0 个" in out


@pytest.mark.django_db
def test_it_builds_a_xianyang_sized_organisation():
    run()
    assert Unit.objects.filter(kind="county").count() == 14
    assert 140 <= Unit.objects.filter(kind="town").count() <= 170
    assert 2800 <= Unit.objects.filter(kind="village").count() <= 3300
    assert Unit.objects.filter(kind="county", name="乾县人民政府", code="610424000000").exists()
    for village in Unit.objects.filter(kind="village")[:50]:
        assert len(village.code) == 12 and village.code.startswith(village.parent.code[:9])
    assert not Unit.objects.filter(kind="village").exclude(name__regex=r"(村民委员会|社区居民委员会)$").exists()
