"""The read side of the 公文 flow has one list of names: documents.queries.visibility.__all__.
documents.queries and documents.actions both re-export exactly those objects (not copies of a list
kept in two places), and a query function added to visibility is part of the list."""
import inspect

from documents import actions, queries
from documents.queries import visibility


def test_it_re_exports_every_read_side_function_from_one_list():
    defined = {name for name, obj in vars(visibility).items()
               if inspect.isfunction(obj) and obj.__module__ == visibility.__name__}
    assert set(visibility.__all__) == defined
    for name in visibility.__all__:
        assert getattr(queries, name) is getattr(visibility, name), name
        assert getattr(actions, name) is getattr(visibility, name), name


def test_it_names_the_read_side_in_neither_package_by_hand():
    for package in (actions, queries):
        source = inspect.getsource(package)
        listed = [name for name in visibility.__all__ if f"    {name},\n" in source]
        assert not listed, f"{package.__name__} lists {listed} again"
