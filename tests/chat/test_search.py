"""Search (app.services.search) through both lists that offer it: the chat screen's
/chat/api/tickets?q= and the REST GET /api/v1/ticket/?q=. Same answers on PostgreSQL (trigram
indexes) and SQLite (table scans), and never a ticket the member may not see."""
import pytest

from tests.conftest import api_login


@pytest.fixture
def people(desk):
    """Tickets in Vendas (Ana's queue) and Suporte (Bruno's), oldest first."""
    d = desk
    t = {}
    t["joana"] = d.ticket(d.vendas, name="Joana Prado", phone="5511987650001", body="quero o boleto")
    t["carlos"] = d.ticket(d.vendas, name="Carlos", phone="5511987650002", body="entrega atrasada")
    t["promo"] = d.ticket(d.vendas, name="Promo 100% Silva", phone="5511987650003", body="desconto 50% hoje")
    t["promo0"] = d.ticket(d.vendas, name="Promo 1000 Silva", phone="5511987650004", body="desconto 500 hoje")
    t["under"] = d.ticket(d.vendas, name="ana_b", phone="5511987650005", body="oi")
    t["underx"] = d.ticket(d.vendas, name="anaxb", phone="5511987650006", body="oi")
    t["joao"] = d.ticket(d.vendas, name="João Ávila", phone="5511987650007", body="Pedido Nº 7, ÁGUA")
    # Bruno's queue: each one matches some search Ana makes below.
    t["joana_s"] = d.ticket(d.suporte, name="Joana Suporte", phone="5511987659001", body="boleto vencido")
    t["num_s"] = d.ticket(d.suporte, name="Outra Pessoa", phone="5511987650099", body="entrega")
    return t


def rest(desk, email):
    """GET /api/v1/ticket/ with `email`'s bearer token, each request in an app context of its own
    (like the chat clients)."""
    api = api_login(desk.app.test_client(), email)

    def get(**params):
        with desk.app.app_context():
            r = api.get("/api/v1/ticket/", query_string=params)
        assert r.status_code == 200, r.get_data(as_text=True)[:300]
        return r.get_json()

    return get


@pytest.fixture
def search(desk, people, chat_client):
    """search(who, q) -> ids the chat screen lists (pending tab, where these tickets wait), after
    checking that the REST API answers the same ids and count."""
    clients = {}
    emails = {"ana": "ana@teste.com.br", "bruno": "bruno@teste.com.br", "sara": "sara@teste.com.br"}

    def run(who, q):
        if who not in clients:
            clients[who] = (chat_client(emails[who]), rest(desk, emails[who]))
        chat, api = clients[who]
        ids = chat.ids(tab="pending", q=q)
        rest_page = api(q=q, page_size=100)
        assert [t["id"] for t in rest_page["result"]] == ids and rest_page["count"] == len(ids), q
        return ids

    return run


def test_name_number_and_text_ignoring_case(people, search):
    p = people
    assert search("ana", "joana") == [p["joana"].id]
    assert search("ana", "JOANA prado") == [p["joana"].id]
    assert search("ana", "BOLETO") == [p["joana"].id]  # message text
    assert search("ana", "650002") == [p["carlos"].id]  # number
    assert search("ana", "(11) 98765-0002") == [p["carlos"].id]  # typed with punctuation
    assert search("ana", "  entrega  ") == [p["carlos"].id]  # spaces around ignored
    # Found through both its contact and its message: listed once.
    assert search("ana", "Silva") == [p["promo0"].id, p["promo"].id]
    assert search("ana", "desconto") == [p["promo0"].id, p["promo"].id]


def test_like_wildcards_and_backslash_are_literal(people, search):
    p = people
    assert search("ana", "100%") == [p["promo"].id]  # not "100" followed by anything
    assert search("ana", "50% hoje") == [p["promo"].id]  # message text
    assert search("ana", "ana_b") == [p["under"].id]  # not "ana" + any character + "b"
    assert search("ana", "ana\\b") == []
    assert search("ana", "o%o") == []


def test_accents_count_and_case_of_accented_text(people, search, db):
    p = people
    assert search("ana", "João") == [p["joao"].id]
    assert search("ana", "ÁGUA") == [p["joao"].id]
    assert search("ana", "pedido nº") == [p["joao"].id]
    assert search("ana", "joao") == [] and search("ana", "agua") == []  # accents count
    # The case of accented letters is ignored on PostgreSQL; on SQLite (its lower() knows ASCII
    # only) it counts: the module doc says so.
    found = [p["joao"].id] if db.engine.dialect.name == "postgresql" else []
    for q in ("água", "ávila", "JOÃO ÁVILA"):
        assert search("ana", q) == found, q


def test_short_text_finds_the_start_of_a_name_word_only(people, search, desk):
    p = people
    assert search("ana", "jo") == [p["joao"].id, p["joana"].id]  # "João", "Joana"
    assert search("ana", "PR") == [p["promo0"].id, p["promo"].id, p["joana"].id]  # "Prado": a later word
    assert search("ana", "na") == []  # inside "Joana": not the start of a word
    assert search("ana", "oi") == []  # a message's whole text, but short text reads no message
    assert search("ana", "65") == []  # too few digits for a number
    assert search("ana", "a") == [p["underx"].id, p["under"].id]  # "anaxb", "ana_b"
    # Three letters are enough for message text and the middle of names.
    assert search("ana", "ana") == [p["underx"].id, p["under"].id, p["joana"].id]
    assert search("ana", "ven") == []  # Bruno's "boleto vencido" stays his


@pytest.mark.parametrize("q", ["%", "_", "+", "--", "\\", "%%%", "  "])
def test_text_without_letters_or_digits_finds_nothing(people, search, desk, q):
    expected = [] if q.strip() else search("ana", "")  # blank = no search: the whole tab
    assert search("ana", q) == expected


def test_a_member_never_finds_a_ticket_outside_her_queues(people, search):
    p = people
    mine = {t.id for k, t in p.items() if not k.endswith("_s")}
    for q in ("joana", "boleto", "vencido", "suporte", "5511987659001", "650099", "entrega", "jo", "Outra",
              "o", "pessoa", "987", "%vencido%", "98765"):
        found = set(search("ana", q))
        assert found <= mine, q
    assert search("ana", "vencido") == [] and search("ana", "Outra Pessoa") == []
    assert search("bruno", "joana") == [p["joana_s"].id]
    assert search("bruno", "entrega") == [p["num_s"].id]
    assert sorted(search("sara", "joana")) == sorted([p["joana"].id, p["joana_s"].id])  # sees both queues
    assert sorted(search("sara", "entrega")) == sorted([p["carlos"].id, p["num_s"].id])


def test_search_pages_walk_every_match_once_in_list_order(desk, people, chat_client, db, monkeypatch):
    """More matches than a page, from contacts and from messages interleaved: the pages (chat
    cursor, REST page/page_size) give exactly the matching tickets, newest first, each once."""
    from app.services import search as search_service
    from app.views.chat import PAGE_SIZE

    made = []
    for i in range(PAGE_SIZE + 4):  # alternately matched by the name and by a message
        if i % 2:
            made.append(desk.ticket(desk.vendas, name=f"Lote {i}", phone=f"55119770{i:05d}", body="quero saber"))
        else:
            made.append(desk.ticket(desk.vendas, name=f"Cliente {i}", phone=f"55119770{i:05d}", body="sobre o lote"))
    expected = [t.id for t in reversed(made)]  # newest activity first
    ana = chat_client("ana@teste.com.br")
    seen, cursor = [], None
    while True:
        page = ana.tickets(tab="pending", q="lote", **({"cursor": cursor} if cursor else {}))
        seen += [t["id"] for t in page["tickets"]]
        cursor = page["cursor"]
        if not cursor:
            break
    assert seen == expected
    api = rest(desk, "ana@teste.com.br")
    listed = []
    for page in range(0, 100):
        r = api(q="lote", page=page, page_size=7)
        assert r["count"] == len(expected)
        if not r["result"]:
            break
        listed += [t["id"] for t in r["result"]]
    assert listed == expected
    assert "count_capped" not in r
    # past search.COUNT_CAP the count stops there and says so; the pages still hold every match
    monkeypatch.setattr(search_service, "COUNT_CAP", 5)
    r = api(q="lote", page=0, page_size=100)
    assert r["count"] == 5 and r["count_capped"] is True and [t["id"] for t in r["result"]] == expected
    monkeypatch.setattr(search_service, "COUNT_CAP", len(expected))
    r = api(q="lote", page=0, page_size=100)
    assert r["count"] == len(expected) and "count_capped" not in r


def test_search_combines_with_tab_queue_and_status_filters(desk, people, chat_client):
    p = people
    sara = chat_client("sara@teste.com.br")
    assert sara.ids(tab="all", q="joana", queue=desk.suporte.id) == [p["joana_s"].id]
    assert sara.ids(tab="closed", q="joana") == []
    ana = chat_client("ana@teste.com.br")
    assert ana.post(f"/chat/api/tickets/{p['joana'].id}/accept").status_code == 200
    assert ana.ids(tab="open", q="joana") == [p["joana"].id] and ana.ids(tab="pending", q="joana") == []
    r = rest(desk, "ana@teste.com.br")(q="joana", status="open")
    assert r["count"] == 1 and [t["id"] for t in r["result"]] == [p["joana"].id]


@pytest.mark.parametrize("q", ["\x00", "jo\x00ana", "x" * 5000, "\U0001F600", "' OR 1=1 --", "\u202eanaoj"])
def test_odd_search_text_is_answered_never_an_error(desk, people, chat_client, q):
    ana = chat_client("ana@teste.com.br")
    r = ana.get("/chat/api/tickets", query_string={"tab": "pending", "q": q})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    if len(q) > 100:  # the REST API says so (maxLength in its OpenAPI); the chat screen uses 100
        api = api_login(desk.app.test_client(), "ana@teste.com.br")
        with desk.app.app_context():
            r = api.get("/api/v1/ticket/", query_string={"q": q})
        assert r.status_code == 400 and r.get_json()["message"]
        return
    ids = {t["id"] for t in rest(desk, "ana@teste.com.br")(q=q)["result"]}
    assert ids <= {t.id for k, t in people.items() if not k.endswith("_s")}
    if q == "jo\x00ana":  # NUL dropped: "joana"
        assert ids == {people["joana"].id}
