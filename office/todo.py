"""The 待办 registry: apps add providers; the 待办 page and badge ask them all.

office imports no app: documents and meetings register here from their AppConfig.ready().
A provider is a callable (person) → list of dicts {"kind", "title", "url", "since", "unit"};
a counter is an optional faster callable (person) → int.
"""
_providers = []


def register(provider, counter=None):
    _providers.append((provider, counter))


def items_for(person):
    items = []
    for provider, _counter in _providers:
        items.extend(provider(person))
    items.sort(key=lambda item: item.get("since") or "", reverse=True)
    return items


def count_for(person):
    total = 0
    for provider, counter in _providers:
        total += counter(person) if counter is not None else len(provider(person))
    return total


def _delegations(person):
    """Office's own 待办: sign-off authority received from a leader (代签授权)."""
    from django.utils import timezone
    from django.utils.translation import gettext as _

    from office.models import Delegation

    now = timezone.now()
    rows = (Delegation.objects.filter(to_post__person_id=person.id, ends_at__gt=now, revoked_at__isnull=True)
            .select_related("from_post__person", "from_post__unit").order_by("-created_at"))
    return [{"kind": "delegation",
             "title": _("受%(who)s委托代签（至%(until)s）") % {
                 "who": d.from_post.person.display_name,
                 "until": timezone.localtime(d.ends_at).strftime("%Y-%m-%d %H:%M")},
             "url": "/directory/unit/%d/" % d.from_post.unit_id, "since": d.created_at,
             "unit": d.from_post.unit.name} for d in rows]


register(_delegations)
