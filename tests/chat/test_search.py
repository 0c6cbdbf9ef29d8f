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


@pytest.mark.parametrize("typed", ["(11) 98765-4321", "98765-4321", "+55 11 98765-4321", "87654321", "551187654321"])
def test_a_mobile_typed_with_its_ninth_digit_finds_whatsapps_old_id(desk, people, search, typed):
    """WhatsApp knows some mobiles by their id from before the ninth digit (app.services.contacts):
    the number as the agent knows it finds that contact."""
    old_id = desk.ticket(desk.vendas, name="Dona Carla", phone="551187654321", body="oi")
    assert search("ana", typed) == [old_id.id]


def test_the_ninth_digit_is_dropped_only_from_a_mobile(desk, people, search):
    landline = desk.ticket(desk.vendas, name="Loja", phone="551134567890", body="oi")
    old_id = desk.ticket(desk.vendas, name="Dona Carla", phone="551187654321", body="oi")
    assert search("ana", "(11) 93456-7890") == []  # 9 + a landline's digits: no mobile
    assert search("ana", "(11) 3456-7890") == [landline.id]
    assert search("ana", "(11) 98765-4321") == [old_id.id]
    assert search("ana", "(11) 8765-4321") == [old_id.id]


def test_the_name_of_a_file_finds_its_conversation(desk, people, search):
    """A customer who sent "Comprovante_Março.pdf" with no caption is found by the file's name,
    accents and case ignored; a text found in no file and no message finds nothing."""
    desk.connection.queues = [desk.vendas]
    desk.db.session.commit()
    desk.engine.deliver(desk.engine.message(desk.connection, phone="5511955550003", name="Rita", body="",
                                            type="document", media={"path": "inbound/x.pdf", "mime": "application/pdf",
                                                                    "name": "Comprovante_Março.pdf"}))
    rita = desk.engine.tickets()[-1]
    assert search("ana", "comprovante") == [rita.id]
    assert search("ana", "MARCO.PDF") == [rita.id]
    assert search("ana", "pdf") == [rita.id]
    assert search("ana", "comprovantes") == []


def test_like_wildcards_and_backslash_are_literal(people, search):
    p = people
    assert search("ana", "100%") == [p["promo"].id]  # not "100" followed by anything
    assert search("ana", "50% hoje") == [p["promo"].id]  # message text
    assert search("ana", "ana_b") == [p["under"].id]  # not "ana" + any character + "b"
    assert search("ana", "ana\\b") == []
    assert search("ana", "o%o") == []


def test_accents_and_case_are_ignored_on_both_sides(people, search, desk):
    p = people
    j = [p["joao"].id]  # "João Ávila", message "Pedido Nº 7, ÁGUA"
    for q in ("João", "joao", "JOAO", "JOÃO ÁVILA", "joão avila", "ávila", "AVILA", "ÁGUA", "agua", "água",
              "Água", "pedido nº", "PEDIDO Nº 7"):
        assert search("ana", q) == j, q
    # Typed with accents the name does not have: found all the same.
    assert search("ana", "jóána") == [p["joana"].id]
    assert search("ana", "CÁRLÕS") == [p["carlos"].id]
    # Cedilla, tilde, acute, circumflex, grave, diaeresis (and uppercase ones), in messages too.
    t = desk.ticket(desk.vendas, name="Conceição Müller", phone="5511987650008",
                    body="Açúcar, pão, café, Ônibus à tarde, lingüiça")
    for q in ("conceicao", "CONCEIÇÃO", "muller", "MÜLLER", "acucar", "AÇÚCAR", "pao", "cafe", "onibus",
              "a tarde", "linguica", "LINGÜIÇA"):
        assert search("ana", q) == [t.id], q
    # Folding makes letters equal, it does not make any letter match anything.
    assert search("ana", "joaa") == [] and search("ana", "agu4") == [] and search("ana", "acucares") == []


def test_short_text_ignores_accents_too(people, search):
    p = people
    assert search("ana", "jo") == search("ana", "JÔ") == [p["joao"].id, p["joana"].id]
    assert search("ana", "áv") == search("ana", "AV") == [p["joao"].id]  # "Ávila": a later word


@pytest.mark.postgresql_only  # on SQLite conecta_fold IS fold_text: nothing to compare
def test_both_databases_fold_letters_alike(app, db):
    """conecta_fold is PostgreSQL's unaccent on one engine and Python's fold_text on the other:
    every Latin letter of U+00C0-U+017F (and plain text around it) must fold the same on both, or
    the same search would find different tickets on PostgreSQL and SQLite."""
    import unicodedata

    from sqlalchemy import literal, select

    from app.models.base import fold_text, folded

    letters = [chr(c) for c in range(0xC0, 0x180) if unicodedata.category(chr(c)).startswith("L")]
    samples = letters + ["São João D'Ávila", "AÇÚCAR, pão e café", "100% pronto_já \\ 0123456789 ABCxyz"]
    with app.app_context():
        in_db = db.session.execute(select(*(folded(literal(s)) for s in samples))).one()
    assert [(s, f) for s, f in zip(samples, in_db) if f != fold_text(s)] == []
    assert fold_text("São João D'Ávila") == "sao joao d'avila" and fold_text("AÇÚCAR") == "acucar"


def test_each_message_keeps_its_text_folded_as_search_compares_it(desk, db):
    """message.body_folded is the database's conecta_fold(body), kept when the text changes (what
    search compares and PostgreSQL indexes; migration 0005)."""
    from sqlalchemy import select

    from app.models import Message
    from app.models.base import fold_text

    t = desk.ticket(desk.vendas, name="Folded", phone="5511987650010", body="Ação RÁPIDA, lingüiça")
    with desk.app.app_context():
        message = db.session.scalars(select(Message).where(Message.ticket_id == t.id)).one()
        assert message.body_folded == fold_text(message.body) == "acao rapida, linguica"
        message.body = "Pão de AÇÚCAR"
        db.session.commit()
        assert db.session.scalar(select(Message.body_folded).where(Message.id == message.id)) == "pao de acucar"


def test_each_contact_keeps_its_name_folded_as_search_compares_it(desk, db):
    """contact.name_folded is the database's conecta_fold(name), kept when WhatsApp renames the
    contact (what search compares and PostgreSQL indexes; migration 0007)."""
    from sqlalchemy import select

    from app.models import Contact
    from app.models.base import fold_text

    desk.ticket(desk.vendas, name="JOSÉ Conceição", phone="5511987650011", body="Oi")
    with desk.app.app_context():
        contact = db.session.scalars(select(Contact).where(Contact.phone == "5511987650011")).one()
        assert db.session.scalar(select(Contact.name_folded).where(Contact.id == contact.id)) \
            == fold_text(contact.name) == "jose conceicao"
        contact.name = "Zé da Ótica"
        db.session.commit()
        assert db.session.scalar(select(Contact.name_folded).where(Contact.id == contact.id)) == "ze da otica"


@pytest.mark.postgresql_only
def test_postgresql_sessions_plan_no_parallel_workers(app, db):
    """A search probing messages ticket by ticket was planned parallel once the folded text was
    stored (cheaper to the planner) and took 5x longer on 2 cores (bench/RESULTS.md): every
    connection of the application runs with max_parallel_workers_per_gather = 0 (config.py)."""
    from sqlalchemy import text

    with app.app_context():
        assert db.session.scalar(text("SHOW max_parallel_workers_per_gather")) == "0"


def test_short_text_finds_the_start_of_a_name_word_only(people, search, desk):
    p = people
    assert search("ana", "jo") == [p["joao"].id, p["joana"].id]  # "João", "Joana"
    assert search("ana", "PR") == [p["promo0"].id, p["promo"].id, p["joana"].id]  # "Prado": a later word
    assert search("ana", "na") == []  # inside "Joana": not the start of a word
    assert search("ana", "oi") == []  # a message's whole text, but short text reads no message
    assert search("ana", "65") == []  # too few digits for a number
    assert search("ana", "a") == [p["joao"].id, p["underx"].id, p["under"].id]  # "Ávila", "anaxb", "ana_b"
    # Three letters are enough for message text and the middle of names.
    assert search("ana", "ana") == [p["underx"].id, p["under"].id, p["joana"].id]
    assert search("ana", "ven") == []  # Bruno's "boleto vencido" stays his


@pytest.mark.parametrize("q", ["%", "_", "+", "--", "---", "\\", "%%%", "  ", " ", "\t", "\x00", "\x00\x00", " \x00 "])
def test_text_without_letters_or_digits_finds_nothing(people, search, desk, q):
    """Blank text and NULs too: they have no letter or digit either (QA: q=%20 and q=%00 listed
    every ticket while q=--- listed none). Only no search at all (no q, or q empty) is the whole tab."""
    assert search("ana", q) == []
    assert len(search("ana", "")) == 7
    assert rest(desk, "ana@teste.com.br")(page_size=100)["count"] == 7


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


@pytest.mark.postgresql_only  # SQLite has no trigram index: search reads its tables
@pytest.mark.parametrize("q, index", [("joao", "ix_contact_name_folded_trgm"),
                                      ("jo", "ix_contact_name_folded_trgm"),
                                      ("açúcar", "ix_message_body_folded_trgm"),
                                      ("comprovante", "ix_message_media_name_folded_trgm")])
def test_postgresql_search_can_read_its_trigram_indexes(app, db, q, index):
    """Each source's statement can be answered from its index: the expression search compares is
    the one the migration indexed (were they to differ by a character, 1 000 000 messages would be
    read for every search). Sequential and plain index scans are priced out so that the plan
    shows whether the trigram index is usable at all, on a table this small (a message's text and
    file name are one source, an OR that both their indexes answer together)."""
    from sqlalchemy import select, text

    from app.models import Ticket
    from app.services import search

    with app.app_context():
        base = select(Ticket)
        stmt = base.where(search.page_clause(base, q, 30)).order_by(*search.LIST_ORDER).limit(30)
        sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
        with db.engine.connect() as conn:
            conn.execute(text("SET enable_seqscan = off"))
            conn.execute(text("SET enable_indexscan = off"))
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))
    assert index in plan, plan
