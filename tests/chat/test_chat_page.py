"""The chat page and its JSON endpoints, in-process (Flask test client, session login)."""
import io
import json

import pytest

from app.models import Message, Ticket


def test_page_in_portuguese_with_tabs_for_the_profile(desk, chat_client):
    ana = chat_client("ana@teste.com.br")
    assert "Atendendo" in ana.page and "Aguardando" in ana.page and "Resolvidos" in ana.page
    assert 'data-tab="all"' in ana.page and ">Todos<" in ana.page  # every ticket she may see
    boot = json.loads(ana.page.split('<script id="chat-boot" type="application/json">')[1].split("</script>")[0])
    assert [q["name"] for q in boot["queues"]] == ["Vendas"]  # filter chips: her queues only
    assert boot["strings"]["today"] == "Hoje"
    sara = chat_client("sara@teste.com.br")
    assert 'data-tab="all"' in sara.page and ">Todos<" in sara.page


def test_anonymous_gets_no_page_and_no_data(app, desk):
    client = app.test_client()
    assert client.get("/chat/").status_code in (302, 401)
    assert client.get("/chat/api/tickets").status_code == 401


def test_lists_show_only_visible_tickets_per_tab_with_counts(desk, chat_client):
    vendas = desk.ticket(desk.vendas, name="Cliente Vendas")
    suporte = desk.ticket(desk.suporte, name="Cliente Suporte")
    ana, bruno, sara = (chat_client(e) for e in ("ana@teste.com.br", "bruno@teste.com.br", "sara@teste.com.br"))
    assert ana.ids(tab="pending") == [vendas.id]
    assert bruno.ids(tab="pending") == [suporte.id]
    assert sorted(sara.ids(tab="pending")) == sorted([vendas.id, suporte.id])
    assert sorted(sara.ids(tab="all")) == sorted([vendas.id, suporte.id])
    assert ana.tickets(tab="pending")["counts"] == {"open": 0, "pending": 1}
    assert sara.tickets(tab="open")["counts"] == {"open": 0, "pending": 2}
    # A User's Todos: every ticket of her queues, not the others'.
    assert ana.ids(tab="all") == [vendas.id] and bruno.ids(tab="all") == [suporte.id]
    # Accepted: it moves to her Atendendo, and out of Aguardando.
    assert ana.post(f"/chat/api/tickets/{vendas.id}/accept").status_code == 200
    assert ana.ids(tab="open") == [vendas.id] and ana.ids(tab="pending") == []
    assert sara.ids(tab="open") == []  # Atendendo = open and mine
    # Someone else handling a ticket of her queue: not in her Atendendo, found in her Todos and search.
    other = desk.ticket(desk.vendas, name="Cliente da Sara")
    assert sara.post(f"/chat/api/tickets/{other.id}/accept").status_code == 200
    assert ana.ids(tab="all", q="Cliente da Sara") == [other.id] and ana.ids(tab="open") == [vendas.id]
    row = ana.tickets(tab="open")["tickets"][0]
    assert row["contact"]["name"] == "Cliente Vendas" and row["queue"]["color"] == "#1E88E5"
    assert row["last_message"] == "Olá, preciso de ajuda" and row["user"]["name"] == "Ana"


def test_queue_filter_and_search_by_name_number_and_text_never_leak(desk, chat_client):
    a = desk.ticket(desk.vendas, name="Joana Prado", phone="5511987650001", body="quero o boleto")
    b = desk.ticket(desk.vendas, name="Carlos", phone="5511987650002", body="entrega atrasada")
    c = desk.ticket(desk.suporte, name="Joana Suporte", phone="5511987650003", body="boleto vencido")
    ana, sara = chat_client("ana@teste.com.br"), chat_client("sara@teste.com.br")
    assert ana.ids(tab="pending", q="joana") == [a.id]
    assert sorted(sara.ids(tab="pending", q="joana")) == sorted([a.id, c.id])
    assert ana.ids(tab="pending", q="boleto") == [a.id]  # message text
    assert ana.ids(tab="pending", q="650002") == [b.id]  # number
    assert ana.ids(tab="pending", q="(11) 98765-0002") == [b.id]  # typed with punctuation
    assert ana.ids(tab="pending", q="%") == []  # LIKE wildcards are literal
    assert sara.ids(tab="all", queue=desk.suporte.id) == [c.id]
    # A User filtering by another queue gets nothing, not that queue's tickets.
    assert ana.ids(tab="pending", queue=desk.suporte.id) == []


def test_pagination_walks_every_ticket_once(desk, chat_client, db):
    from app.views.chat import PAGE_SIZE

    made = {desk.ticket(desk.vendas, name=f"Cliente {i}").id for i in range(PAGE_SIZE + 5)}
    ana = chat_client("ana@teste.com.br")
    seen, cursor, pages = [], None, 0
    while True:
        page = ana.tickets(tab="pending", **({"cursor": cursor} if cursor else {}))
        seen += [t["id"] for t in page["tickets"]]
        pages += 1
        cursor = page["cursor"]
        if not cursor:
            break
    assert pages == 2 and len(seen) == len(set(seen)) and set(seen) == made
    updated = [t.updated_at for t in db.session.query(Ticket).filter(Ticket.id.in_(seen))]
    assert len(updated) == len(seen)


def test_another_queues_ticket_is_not_found_anywhere(desk, chat_client, db):
    other = desk.ticket(desk.suporte, name="Segredo")
    msg = db.session.query(Message).filter_by(ticket_id=other.id).first()
    ana = chat_client("ana@teste.com.br")
    for url in (f"/chat/api/tickets/{other.id}", f"/chat/api/tickets/{other.id}/messages",
                f"/chat/media/{msg.id}", "/chat/api/tickets/999999"):
        r = ana.get(url)
        assert r.status_code == 404, url
        assert "Segredo" not in r.get_data(as_text=True)
    for action in ("accept", "close", "reopen", "return"):
        assert ana.post(f"/chat/api/tickets/{other.id}/{action}").status_code == 404
    assert ana.post(f"/chat/api/tickets/{other.id}/messages", json={"body": "oi"}).status_code == 404
    assert ana.post(f"/chat/api/tickets/{other.id}/transfer", json={"queue": desk.vendas.id}).status_code == 404
    # Retrying another team's message answers as for a message that does not exist (the same text:
    # "Ticket não encontrado" would tell that the message id exists).
    from app.models import MessageStatus

    failed = Message(ticket_id=other.id, connection_id=other.connection_id, channel_id="3EB0FALHOU", from_me=True,
                     type="text", body="não foi", status=MessageStatus.FAILED, error="offline")
    db.session.add(failed)
    db.session.commit()
    hidden, missing = ana.post(f"/chat/api/messages/{failed.id}/retry"), ana.post("/chat/api/messages/999999/retry")
    assert (hidden.status_code, hidden.get_json()) == (missing.status_code, missing.get_json()) == (
        404, {"message": "Mensagem não encontrada."})
    db.session.expire_all()
    assert db.session.get(Ticket, other.id).status == "pending"
    assert db.session.get(Message, failed.id).status == MessageStatus.FAILED
    db.session.delete(db.session.get(Message, failed.id))
    db.session.commit()
    assert db.session.query(Message).filter_by(ticket_id=other.id, from_me=True).count() == 0


def test_actions_need_the_pages_csrf_token(desk, chat_client, db):
    t = desk.ticket(desk.vendas)
    ana = chat_client("ana@teste.com.br")
    for headers in ({}, {"X-CSRFToken": "forjado"}):
        r = ana.post(f"/chat/api/tickets/{t.id}/accept", headers=headers)
        assert r.status_code == 400 and "expirou" in r.get_json()["message"]
    db.session.expire_all()
    assert db.session.get(Ticket, t.id).status == "pending"


def test_the_pages_token_still_works_hours_after_the_page_opened(desk, chat_client, db, app):
    """Agents keep Atendimentos open all day: a token the page got 8 hours ago still accepts and
    sends (before, every action of a page open for more than an hour answered "A página expirou",
    Flask-WTF's default 3600 s limit). The token stays tied to the login session."""
    import time

    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    class EightHoursAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 8 * 3600

    t = desk.ticket(desk.vendas)
    ana = chat_client("ana@teste.com.br")
    with ana.http.session_transaction() as session:
        raw = session["csrf_token"]
    old = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token", signer=EightHoursAgo).dumps(raw)
    headers = {"X-CSRFToken": old}
    r = ana.post(f"/chat/api/tickets/{t.id}/accept", headers=headers)
    assert r.status_code == 200, r.get_json()
    r = ana.post(f"/chat/api/tickets/{t.id}/messages", json={"body": "Ainda estou aqui"}, headers=headers)
    assert r.status_code == 201, r.get_json()
    # Another session's token, however fresh, is still refused.
    bruno = chat_client("bruno@teste.com.br")
    r = ana.post(f"/chat/api/tickets/{t.id}/messages", json={"body": "x"}, headers={"X-CSRFToken": bruno.csrf})
    assert r.status_code == 400 and "expirou" in r.get_json()["message"]


def test_work_a_conversation_and_the_buttons_follow_the_rules(desk, chat_client, db):
    from app.services.settings import get_settings

    t = desk.ticket(desk.vendas)
    ana, bruno = chat_client("ana@teste.com.br"), chat_client("bruno@teste.com.br")
    assert ana.get(f"/chat/api/tickets/{t.id}").get_json()["actions"] == ["accept", "close", "transfer"]
    r = ana.post(f"/chat/api/tickets/{t.id}/accept")
    assert r.get_json()["ticket"]["status"] == "open"
    assert r.get_json()["actions"] == ["close", "return", "send", "transfer"]
    r = ana.post(f"/chat/api/tickets/{t.id}/messages", json={"body": "Bom dia! <b>Posso ajudar</b>"})
    assert r.status_code == 201 and r.get_json()["message"]["status"] == "queued"
    assert r.get_json()["message"]["sender_name"] == "Ana"
    too_long = ana.post(f"/chat/api/tickets/{t.id}/messages", json={"body": "x" * 4097})
    assert too_long.status_code == 422 and "4096" in too_long.get_json()["message"]
    history = ana.get(f"/chat/api/tickets/{t.id}/messages").get_json()["messages"]
    assert [m["body"] for m in history] == ["Olá, preciso de ajuda", "Bom dia! <b>Posso ajudar</b>"]
    # Transfer to Suporte: back to pending there; Ana no longer sees it, Bruno does.
    r = ana.post(f"/chat/api/tickets/{t.id}/transfer", json={"queue": desk.suporte.id})
    assert r.status_code == 200 and r.get_json()["ticket"] is None
    assert ana.get(f"/chat/api/tickets/{t.id}").status_code == 404
    assert bruno.ids(tab="pending") == [t.id]
    lines = [m for m in bruno.get(f"/chat/api/tickets/{t.id}/messages").get_json()["messages"] if m["type"] == "system"]
    assert [m["body"] for m in lines] == ["Transferido para Suporte por Ana"]
    bruno.post(f"/chat/api/tickets/{t.id}/accept")
    # Ratings on and required: closing without one is refused, with one it closes.
    s = get_settings()
    from app.models import RatingOption, RatingTemplate

    template = RatingTemplate(name="Padrão", message="Avalie de 1 a 3",
                              options=[RatingOption(value=1, label="Ruim"), RatingOption(value=3, label="Ótimo")])
    db.session.add(template)
    s.send_ratings, s.rating_required = True, True
    db.session.commit()
    r = bruno.post(f"/chat/api/tickets/{t.id}/close", json={})
    assert r.status_code == 422 and r.get_json()["message"]
    r = bruno.post(f"/chat/api/tickets/{t.id}/close", json={"rating": template.id})
    assert r.status_code == 200 and r.get_json()["ticket"]["status"] == "closed"
    assert r.get_json()["ticket"]["awaiting_rating"] is True
    assert r.get_json()["actions"] == ["reopen"]
    assert bruno.ids(tab="closed") == [t.id]
    # The customer answers the rating: the conversation shows a line with it.
    desk.engine.deliver(desk.engine.message(desk.connection, phone=t.contact.phone, body="3"))
    history = bruno.get(f"/chat/api/tickets/{t.id}/messages").get_json()["messages"]
    assert history[-1]["type"] == "system" and history[-1]["body"] == "Avaliação recebida: 3 - Ótimo"


def test_group_actions_off_hide_and_refuse_the_buttons_for_users(desk, chat_client, db):
    from app.services.settings import get_settings

    desk.connection.queues = [desk.vendas]
    get_settings().ignore_group_messages = False
    db.session.commit()
    desk.engine.deliver(desk.engine.group_message(desk.connection))
    t = db.session.query(Ticket).filter_by(is_group=True).one()
    get_settings().group_actions = False
    db.session.commit()
    ana, sara = chat_client("ana@teste.com.br"), chat_client("sara@teste.com.br")
    assert ana.get(f"/chat/api/tickets/{t.id}").get_json()["actions"] == []
    r = ana.post(f"/chat/api/tickets/{t.id}/accept")
    assert r.status_code == 403 and r.get_json()["message"]
    assert sara.get(f"/chat/api/tickets/{t.id}").get_json()["actions"] == ["accept", "close", "transfer"]
    get_settings().group_actions = True
    db.session.commit()
    assert ana.get(f"/chat/api/tickets/{t.id}").get_json()["actions"] == ["accept", "close", "transfer"]
    history = ana.get(f"/chat/api/tickets/{t.id}/messages").get_json()["messages"]
    assert history[0]["sender_name"] == "João"  # the group member who wrote


def test_attachments_are_checked_stored_and_served_only_to_who_sees_the_ticket(desk, chat_client, db, app):
    from pathlib import Path

    outbound_dir = Path(app.config["MEDIA_DIR"], "outbound")
    before = set(outbound_dir.iterdir()) if outbound_dir.exists() else set()
    t = desk.ticket(desk.vendas)
    ana, bruno = chat_client("ana@teste.com.br"), chat_client("bruno@teste.com.br")
    ana.post(f"/chat/api/tickets/{t.id}/accept")
    url = f"/chat/api/tickets/{t.id}/messages"
    bad = ana.post(url, data={"file": (io.BytesIO(b"MZ..."), "programa.exe")}, json=None)
    assert bad.status_code == 422 and "tipo de arquivo" in bad.get_json()["message"]
    empty = ana.post(url, data={"file": (io.BytesIO(b""), "vazio.pdf")})
    assert empty.status_code == 422
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    r = ana.post(url, data={"file": (io.BytesIO(png), "<img src=x onerror=alert(1)>.png"), "body": "segue"})
    assert r.status_code == 201, r.get_data(as_text=True)
    sent = r.get_json()["message"]
    assert sent["type"] == "image" and sent["body"] == "segue" and sent["status"] == "queued"
    assert "path" not in sent["media"]  # the server-side path is not the screen's business
    stored = db.session.get(Message, sent["id"])
    assert stored.media_mime == "image/png" and Path(app.config["MEDIA_DIR"], stored.media_path).is_file()
    assert "<" not in stored.media_name
    got = ana.get(f"/chat/media/{sent['id']}")
    assert got.status_code == 200 and got.data == png and got.mimetype == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert bruno.get(f"/chat/media/{sent['id']}").status_code == 404
    # Nothing of the refused uploads was kept.
    files = set(outbound_dir.iterdir()) - before
    assert [f.name for f in files] == [Path(stored.media_path).name]


def test_inbound_html_file_is_a_download_never_rendered(desk, chat_client, db, app):
    from pathlib import Path

    t = desk.ticket(desk.vendas)
    media = Path(app.config["MEDIA_DIR"], "inbound", "x.html")
    media.parent.mkdir(parents=True, exist_ok=True)
    media.write_text("<script>alert(1)</script>")
    m = Message(ticket_id=t.id, connection_id=t.connection_id, type="document", body="",
                media_path="inbound/x.html", media_mime="text/html", media_name="fatura.html")
    db.session.add(m)
    db.session.commit()
    r = chat_client("ana@teste.com.br").get(f"/chat/media/{m.id}")
    assert r.status_code == 200 and r.mimetype == "application/octet-stream"
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in r.headers["Content-Security-Policy"]


def test_a_voice_note_is_served_to_play_in_the_page(desk, chat_client, db, app):
    """WhatsApp gives voice notes (and many audios) as "audio/ogg; codecs=opus": served as a
    download of unknown type (before), the agent had to save the file and find a player for every
    voice note; the type counts, not its parameters. An HTML file with parameters stays a download."""
    from pathlib import Path

    t = desk.ticket(desk.vendas)
    folder = Path(app.config["MEDIA_DIR"], "inbound")
    folder.mkdir(parents=True, exist_ok=True)
    Path(folder, "ptt.ogg").write_bytes(b"OggS" + b"0" * 100)
    Path(folder, "y.html").write_text("<script>alert(1)</script>")
    voice = Message(ticket_id=t.id, connection_id=t.connection_id, type="audio", body="",
                    media_path="inbound/ptt.ogg", media_mime="audio/ogg; codecs=opus", media_name="audio.ogg")
    page = Message(ticket_id=t.id, connection_id=t.connection_id, type="document", body="",
                   media_path="inbound/y.html", media_mime="text/html; charset=utf-8", media_name="fatura.html")
    db.session.add_all([voice, page])
    db.session.commit()
    ana = chat_client("ana@teste.com.br")
    r = ana.get(f"/chat/media/{voice.id}")
    assert r.status_code == 200 and r.mimetype == "audio/ogg"
    assert not r.headers.get("Content-Disposition", "").startswith("attachment")
    r = ana.get(f"/chat/media/{page.id}")
    assert r.mimetype == "application/octet-stream" and r.headers["Content-Disposition"].startswith("attachment")


def test_quick_replies_shared_and_own_only(desk, chat_client, db):
    from app.models import QuickReply

    db.session.add_all([QuickReply(shortcut="boasvindas", message="Olá! Seja bem-vindo."),
                        QuickReply(shortcut="pix", message="Nossa chave Pix é ...", user_id=desk.ana.id),
                        QuickReply(shortcut="bruno", message="só do Bruno", user_id=desk.bruno.id)])
    db.session.commit()
    got = chat_client("ana@teste.com.br").get("/chat/api/quick-replies").get_json()["quick_replies"]
    assert [q["shortcut"] for q in got] == ["boasvindas", "pix"]


def test_quick_replies_for_a_ticket_have_their_variables_filled(desk, chat_client, db):
    """A quick reply takes the variables of every other template; for the open ticket they are
    filled in (the agent typing is {{atendente}}), never sent to the customer as "{{nome}}"."""
    from app.models import QuickReply

    db.session.add(QuickReply(shortcut="ola", message="{{ nome }}, aqui é {{atendente}} ({{fila}}), protocolo "
                                                      "{{protocolo}}. {{saudacao}}! {{outro}}"))
    db.session.commit()
    ticket = desk.ticket(desk.vendas, name="Joana Prado")
    ana = chat_client("ana@teste.com.br")
    got = ana.get(f"/chat/api/quick-replies?ticket={ticket.id}").get_json()["quick_replies"]
    assert [q["shortcut"] for q in got] == ["ola"]
    text = got[0]["message"]
    assert text.startswith(f"Joana Prado, aqui é Ana (Vendas), protocolo {ticket.protocol}. Bo"), text
    assert text.endswith("! {{outro}}") and "{{" not in text.replace("{{outro}}", "")
    # A ticket the member may not see: 404, as anywhere else.
    other = desk.ticket(desk.suporte)
    r = ana.get(f"/chat/api/quick-replies?ticket={other.id}")
    assert r.status_code == 404 and r.get_json()["message"]
    assert ana.get("/chat/api/quick-replies?ticket=abc").status_code == 404


def test_out_of_range_and_malformed_ids_are_clean_errors(desk, chat_client):
    t = desk.ticket(desk.vendas)
    ana = chat_client("ana@teste.com.br")
    huge = 2 ** 40
    for url in (f"/chat/api/tickets/{huge}", f"/chat/api/tickets/{huge}/messages", f"/chat/media/{huge}"):
        assert ana.get(url).status_code == 404, url
    assert ana.post(f"/chat/api/messages/{huge}/retry").status_code == 404
    assert ana.get(f"/chat/api/tickets?tab=pending&queue={huge}").status_code == 422
    assert ana.get("/chat/api/tickets?tab=pending&queue=abc").status_code == 422
    assert ana.get("/chat/api/tickets?tab=nada").status_code == 422
    assert ana.get(f"/chat/api/tickets/{t.id}/messages?before={huge}").status_code == 400  # as the REST API
    for payload in ({"queue": huge}, {"queue": True}, {"user": "x"}, {"queue": [1]}):
        r = ana.post(f"/chat/api/tickets/{t.id}/transfer", json=payload)
        assert r.status_code == 422 and r.get_json()["message"], payload
    r = ana.post(f"/chat/api/tickets/{t.id}/close", json={"rating": huge})
    assert r.status_code == 422


@pytest.mark.parametrize("url", ["/chat/api/tickets/{t}/messages?after=abc", "/chat/api/tickets/{t}/messages?before=abc",
                                 "/chat/api/tickets/{t}/messages?after=1.5", "/chat/api/tickets/{t}/messages?after=-1",
                                 "/chat/api/tickets?tab=pending&cursor=!!!", "/chat/api/tickets?tab=pending&cursor=bad-cursor"])
def test_an_unreadable_page_position_is_refused_not_the_first_page(desk, chat_client, url):
    """after=abc and cursor=!!! answered 200 with the first page (the REST API refuses before=abc
    with 400): refused the same way."""
    t = desk.ticket(desk.vendas)
    ana = chat_client("ana@teste.com.br")
    r = ana.get(url.format(t=t.id))
    assert r.status_code == 400 and r.get_json()["message"] in ("Identificador inválido.",
                                                                 "Posição da lista inválida. Recarregue a lista.")


def test_fractional_ids_are_refused_not_truncated(desk, chat_client, db):
    """{"queue": 2.9} on /chat/api/tickets/<id>/transfer moved the ticket to queue 2 (int() cut it)."""
    t = desk.ticket(desk.vendas)
    sara = chat_client("sara@teste.com.br")
    for payload, label in (({"queue": desk.suporte.id + 0.9}, "Fila"), ({"queue": float(desk.suporte.id)}, "Fila"),
                           ({"user": desk.bruno.id + 0.99}, "Atendente"), ({"queue": f"{desk.suporte.id}.0"}, "Fila")):
        r = sara.post(f"/chat/api/tickets/{t.id}/transfer", json=payload)
        assert (r.status_code, r.get_json()) == (422, {"message": f"{label}: identificador inválido."}), payload
        db.session.expire_all()
        assert (db.session.get(Ticket, t.id).queue_id, db.session.get(Ticket, t.id).user_id) == (desk.vendas.id, None)
    r = sara.post(f"/chat/api/tickets/{t.id}/transfer", json={"queue": desk.suporte.id})
    assert r.status_code == 200 and r.get_json()["ticket"]["queue"]["id"] == desk.suporte.id, r.get_json()


def test_messages_page_backwards_and_forwards(desk, chat_client, db):
    from app.views.chat import MESSAGES_PAGE

    t = desk.ticket(desk.vendas, body="m0")
    db.session.add_all([Message(ticket_id=t.id, connection_id=t.connection_id, body=f"m{i}")
                        for i in range(1, MESSAGES_PAGE + 10)])
    db.session.commit()
    ana = chat_client("ana@teste.com.br")
    url = f"/chat/api/tickets/{t.id}/messages"
    last = ana.get(url).get_json()
    assert last["more"] is True and len(last["messages"]) == MESSAGES_PAGE
    assert last["messages"][-1]["body"] == f"m{MESSAGES_PAGE + 9}"  # oldest first, newest last
    older = ana.get(url, query_string={"before": last["messages"][0]["id"]}).get_json()
    assert older["more"] is False and [m["body"] for m in older["messages"]] == [f"m{i}" for i in range(10)]
    first_id = older["messages"][0]["id"]
    newer = ana.get(url, query_string={"after": first_id}).get_json()
    assert newer["more"] is True and newer["messages"][0]["body"] == "m1"


def test_an_attachment_over_the_limit_is_refused_and_not_kept(desk, chat_client, db, app, monkeypatch):
    from pathlib import Path

    monkeypatch.setenv("CHAT_MAX_UPLOAD_BYTES", str(1024 * 1024))
    outbound_dir = Path(app.config["MEDIA_DIR"], "outbound")
    kept = lambda: set(outbound_dir.iterdir()) if outbound_dir.exists() else set()  # noqa: E731
    before = kept()
    t = desk.ticket(desk.vendas)
    ana = chat_client("ana@teste.com.br")
    ana.post(f"/chat/api/tickets/{t.id}/accept")
    big = io.BytesIO(b"%PDF" + b"0" * (1024 * 1024))
    r = ana.post(f"/chat/api/tickets/{t.id}/messages", data={"file": (big, "contrato.pdf")})
    assert r.status_code == 413 and "1 MB" in r.get_json()["message"]
    assert kept() == before
    assert db.session.query(Message).filter_by(ticket_id=t.id, from_me=True).count() == 0
    # A file on a ticket she may not answer (another agent's) is refused and not kept either.
    bruno_ticket = desk.ticket(desk.suporte)
    r = ana.post(f"/chat/api/tickets/{bruno_ticket.id}/messages", data={"file": (io.BytesIO(b"%PDF-1"), "a.pdf")})
    assert r.status_code == 404
    assert kept() == before


def test_a_request_over_the_servers_limit_is_refused_in_portuguese_json(desk, chat_client, db, app, monkeypatch):
    """A file the screen lets through (its size under the chat's limit) in a request over the
    server's MAX_CONTENT_LENGTH (the form's own bytes count too, and the two limits are separate
    settings): the chat's script reads the JSON message, not Flask's English HTML page (it showed
    'Algo deu errado. Tente novamente.', and trying again never helps)."""
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    t = desk.ticket(desk.vendas)
    ana = chat_client("ana@teste.com.br")
    ana.post(f"/chat/api/tickets/{t.id}/accept")
    big = io.BytesIO(b"%PDF" + b"0" * (100 * 1024))
    r = ana.post(f"/chat/api/tickets/{t.id}/messages", data={"file": (big, "contrato.pdf")})
    assert r.status_code == 413 and r.is_json
    assert r.get_json()["message"] == "O arquivo é grande demais (máximo de 1 MB)."
    assert db.session.query(Message).filter_by(ticket_id=t.id, from_me=True).count() == 0
    # The page is told the smaller of the two limits, so it refuses such a file before sending it.
    page = ana.get("/chat/").get_data(as_text=True)
    assert '"max_upload": 49152' in page.replace('"max_upload":49152', '"max_upload": 49152')


def test_a_media_url_says_nothing_of_a_ticket_the_member_may_not_see(desk, chat_client, db, app):
    """DESIGN §4, no learning that a ticket exists by guessing ids: the file of a message in a
    ticket Ana may not see (Suporte) gets the very answer of a message without a file and of an id
    that does not exist (QA: it was 404 JSON {"message": "Ticket não encontrado."}, the others the
    404 page)."""
    import re
    from pathlib import Path

    hidden = desk.ticket(desk.suporte)
    mine = desk.ticket(desk.vendas)
    media = Path(app.config["MEDIA_DIR"], "inbound", "boleto.pdf")
    media.parent.mkdir(parents=True, exist_ok=True)
    media.write_bytes(b"%PDF-1.4 boleto")
    secret = Message(ticket_id=hidden.id, connection_id=hidden.connection_id, type="document", body="",
                     media_path="inbound/boleto.pdf", media_mime="application/pdf", media_name="boleto.pdf")
    db.session.add(secret)
    db.session.commit()
    plain = db.session.query(Message).filter(Message.ticket_id == mine.id, Message.media_path.is_(None)).first()
    assert chat_client("sara@teste.com.br").get(f"/chat/media/{secret.id}").status_code == 200  # the file is there

    ana = chat_client("ana@teste.com.br")
    answers = []
    for message_id in (secret.id, plain.id, 999999):
        r = ana.get(f"/chat/media/{message_id}")
        body = re.sub(r'nonce="[^"]*"', 'nonce=""', r.get_data(as_text=True))
        answers.append((r.status_code, r.content_type, body))
    assert answers[0][0] == 404
    assert answers[0] == answers[1] == answers[2]
