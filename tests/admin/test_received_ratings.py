"""Avaliações recebidas: the customers' answers, with the ticket and the agent, for Admins and
Supervisors (before, a received rating was only a line inside the conversation)."""
import datetime as dt

from tests.conftest import ADMIN_EMAIL, login


def test_received_ratings_are_listed_newest_first_with_contact_agent_queue_and_ticket(app, db, factory):
    from app.models import Contact, Rating, Ticket

    suporte = factory.queue(name="Suporte")
    conn = factory.connection(queues=[suporte])
    ana = factory.member("user", queues=[suporte], name="Ana Souza")
    factory.member("supervisor", email="sup@teste.com.br")
    rows = []
    for n, (name, value, label) in enumerate((("Maria Lima", 3, "Muito satisfeito"), ("João Alves", 1, "Insatisfeito"))):
        contact = Contact(jid=f"551198888000{n}@c.us", phone=f"551198888000{n}", name=name)
        db.session.add(contact)
        db.session.flush()
        ticket = Ticket(contact_id=contact.id, connection_id=conn.id, queue_id=suporte.id, status="closed",
                        user_id=ana.id)
        db.session.add(ticket)
        db.session.flush()
        rows.append((ticket.id, Rating(ticket_id=ticket.id, user_id=ana.id, value=value, label=label,
                                       queue_id=suporte.id, created_at=dt.datetime(2026, 12, 7, 12 + n, 30))))
        db.session.add(rows[-1][1])
    db.session.commit()
    client = app.test_client()
    login(client, "sup@teste.com.br")
    page = client.get("/received-ratings/list/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in ("Avaliações recebidas", "Recebida em", "Nota", "Resposta", "Atendente", "Contato", "Fila",
                 "Maria Lima", "João Alves", "Muito satisfeito", "Insatisfeito", "Ana Souza", "Suporte",
                 "07/12/2026 09:30"):  # 12:30 UTC in São Paulo
        assert text in html, text
    assert html.index("João Alves") < html.index("Maria Lima")  # newest first
    for ticket_id, _rating in rows:
        assert f'href="/chat/?ticket={ticket_id}">#{ticket_id}</a>' in html
    # Filtered by score.
    only = client.get("/received-ratings/list/?_flt_0_value=3").get_data(as_text=True)
    assert "Maria Lima" in only and "João Alves" not in only


def test_a_rating_is_listed_under_the_queue_it_was_given_in(app, db, factory):
    """Rated in Vendas, then reopened and transferred to Suporte: listed under Vendas."""
    from app.models import Contact, Rating, Ticket

    vendas, suporte = factory.queue(name="Vendas"), factory.queue(name="Suporte")
    conn = factory.connection(queues=[vendas, suporte])
    factory.member("supervisor", email="sup@teste.com.br")
    contact = Contact(jid="5511988880009@c.us", phone="5511988880009", name="Maria Lima")
    db.session.add(contact)
    db.session.flush()
    ticket = Ticket(contact_id=contact.id, connection_id=conn.id, queue_id=suporte.id, status="open")
    db.session.add(ticket)
    db.session.flush()
    db.session.add(Rating(ticket_id=ticket.id, value=3, label="Muito satisfeito", queue_id=vendas.id))
    db.session.commit()
    client = app.test_client()
    login(client, "sup@teste.com.br")
    html = client.get("/received-ratings/list/").get_data(as_text=True)
    row = html[html.index("Muito satisfeito"):]
    row = row[:row.index("</tr>")]
    assert "Vendas" in row and "Suporte" not in row, row


def test_the_agent_filter_offers_the_members_and_no_raw_blank_choice(app, factory):
    """Buscar › Incluir filtro › Atendente offered a raw "__None" choice, selected and first (FAB's
    blank choice of a nullable relation), and filtering by it failed."""
    import html
    import re

    factory.member("user", name="Ana Souza")
    client = app.test_client()
    login(client, ADMIN_EMAIL)
    page = html.unescape(client.get("/received-ratings/list/").get_data(as_text=True)).replace("\\u003c", "<").replace(
        "\\u003e", ">").replace('\\"', '"')
    select = re.search(r'<select[^>]*id="user".*?</select>', page).group(0)
    assert "__None" not in select
    assert re.findall(r"<option[^>]*>([^<]*)</option>", select) == ["Administrador", "Ana Souza"]


def test_a_bad_filter_value_shows_the_list_unfiltered_with_a_message(app, factory):
    """A value the filter cannot use (an agent "abc") sent the page back with FAB's English
    "An error occurred: ..." (PostgreSQL refuses it; SQLite finds nobody)."""
    from tests.conftest import database_engine

    client = app.test_client()
    login(client, ADMIN_EMAIL)
    for args in ("_flt_0_user=abc", "_flt_1_user=__None", "_flt_0_user=99999999999"):
        r = client.get(f"/received-ratings/list/?{args}")
        assert r.status_code == 200, (args, r.status_code)
        said = "O valor de um filtro não é válido: a lista é mostrada sem filtros." in r.get_data(as_text=True)
        assert said or database_engine() == "sqlite", args
