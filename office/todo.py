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
