"""In a real Chromium: choosing a 文种 on the drafting form fills the body with that 文种's template
(the form reads /api/documents/types, which used to fail on every call)."""
import pytest

from tests.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_fills_the_body_with_the_chosen_document_types_template(seed_small, live_server_url, new_page):
    page = new_page()
    login(page, live_server_url, "county_secretary")
    page.goto(live_server_url + "/documents/new/")
    page.select_option("#doc_type", "请示")
    page.wait_for_function("document.getElementById('body').value.includes('妥否，请批示。')", timeout=10000)
    page.select_option("#doc_type", "函")
    page.wait_for_function("document.getElementById('body').value.includes('特此函告。')", timeout=10000)
