"""The admin lists' URL arguments (_oc_ / _od_ order, page_ / psize_ paging) are typed by anyone:
one the list cannot use is ignored (default order, first page), never a 500. Flask-AppBuilder passed
an unknown column to the SQL (CompileError), "abc" to int() and a negative page or size to
OFFSET / LIMIT."""
import html

import pytest

from tests.admin.test_api import seeded  # noqa: F401 (fixture)
from tests.admin.test_forms import admin  # noqa: F401 (fixture)

# url: (view, a text of its first page, the seeded object for its detail page)
LISTS = {"/queues/list/": ("QueueView", "Suporte", "q"), "/team/list/": ("TeamView", "user@teste.com.br", "user"),
         "/connections/list/": ("ConnectionView", "Principal", "c"), "/ratings/list/": ("RatingView", "Padrão", "r"),
         "/quick_replies/list/": ("QuickReplyView", "ola", "qr"),
         "/received-ratings/list/": ("ReceivedRatingView", "Avaliações recebidas", None)}
BAD = ["_oc_{v}=nonexistent&_od_{v}=asc", "_oc_{v}=password&_od_{v}=desc", "_oc_{v}=name&_od_{v}=xyz",
       "_oc_{v}=id;drop&_od_{v}=asc", "page_{v}=abc", "page_{v}=-1", "page_{v}=99999999999999999999",
       "psize_{v}=-1", "psize_{v}=abc", "psize_{v}=0", "psize_{v}=100000000000",
       "page_{v}=" + "9" * 5000, "page_{v}=%C2%B2"]


@pytest.mark.parametrize("url", list(LISTS))
def test_unusable_list_arguments_show_the_list_as_by_default(app, admin, seeded, url):
    view, shown, key = LISTS[url]
    for args in BAD:
        r = admin.get(f"{url}?{args.format(v=view)}")
        assert r.status_code == 200, (url, args, r.status_code)
        assert shown in html.unescape(r.get_data(as_text=True)), (url, args)
    # The last page a number allows: empty, not an OFFSET the database refuses.
    assert admin.get(f"{url}?page_{view}=2147483647&psize_{view}=100").status_code == 200
    # A detail page with a bad page_ argument (FAB parsed them there too, for related views).
    if key:
        r = admin.get(f"{url.replace('/list/', '/show/')}{seeded[key]}?page_{view}=abc")
        assert r.status_code == 200, (url, r.status_code)


def test_usable_order_and_paging_still_apply(app, admin, seeded):
    from app.services import queues

    with app.app_context():
        queues.create({"name": "Zeladoria", "color": "#0000AA", "bot_order": 2})
    page = admin.get("/queues/list/?_oc_QueueView=name&_od_QueueView=desc").get_data(as_text=True)
    assert page.index("Zeladoria") < page.index("Suporte")
    page = admin.get("/queues/list/?_oc_QueueView=name&_od_QueueView=asc&psize_QueueView=1&page_QueueView=1"
                     ).get_data(as_text=True)
    assert "Zeladoria" in page and "Suporte" not in page
