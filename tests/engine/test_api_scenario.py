"""The issue's "Done when": through the REST API and the ingest job alone (inbox + RQ on the real
Redis, no WhatsApp), the whole life of a ticket; plus groups, calls, business hours and the
mandatory rating. Also the API's own rules (auth, filters, pagination, 404s)."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from app.models import BusinessHours, Rating, RatingOption, RatingTemplate
from tests.conftest import api_login


@pytest.fixture
def office(engine, factory, client):
    vendas = factory.queue(name="Vendas", bot_order=1, greeting_message="Vendas: olá, {{nome}}!")
    suporte = factory.queue(name="Suporte", bot_order=2, greeting_message="Suporte: olá, {{nome}}! Protocolo {{protocolo}}")
    conn = factory.connection(queues=[vendas, suporte], greeting_message="{{saudacao}}, {{nome}}! Escolha um setor:",
                              completion_message="Obrigado pelo contato!")
    template = RatingTemplate(name="Satisfação", message="Como foi o atendimento de {{atendente}}?")
    template.options = [RatingOption(value=1, label="Ruim"), RatingOption(value=2, label="Bom"),
                        RatingOption(value=3, label="Ótimo")]
    engine.db.session.add(template)
    engine.db.session.commit()
    engine.settings(send_ratings=True, chatbot_type="text", operator_greeting=True,
                    operator_greeting_text="Olá {{nome}}, sou {{atendente}} e vou te atender.",
                    transfer_message=True, transfer_message_text="Você foi transferido para {{fila}}.",
                    operator_farewell=False, ignore_group_messages=False, group_actions=False,
                    accept_calls=False, call_rejection_message="Não atendemos ligações, {{nome}}. Escreva aqui.")
    ana = factory.member(queues=[suporte], name="Ana", email="ana@teste.com.br")
    caio = factory.member(queues=[vendas], name="Caio", email="caio@teste.com.br")
    sup = factory.member(profile="supervisor", name="Sueli", email="sueli@teste.com.br")
    o = type("Office", (), {})()
    o.vendas, o.suporte, o.conn, o.template = vendas, suporte, conn, template
    o.ana, o.caio, o.sup = ana, caio, sup
    o.ana_api = api_login(client, "ana@teste.com.br")
    o.caio_api = api_login(client, "caio@teste.com.br")
    o.sup_api = api_login(client, "sueli@teste.com.br")
    return o


def bodies(api, ticket_id):
    r = api.get(f"/api/v1/ticket/{ticket_id}/messages")
    assert r.status_code == 200, r.get_json()
    return [m["body"] for m in r.get_json()["result"]]


def test_the_whole_scripted_scenario(engine, office):
    o = office
    # 1. the customer writes: the connection greeting and the menu
    engine.submit_and_drain(engine.message(o.conn, name="Maria", body="Oi, preciso de ajuda"))
    [ticket] = o.sup_api.get("/api/v1/ticket/").get_json()["result"]
    tid = ticket["id"]
    assert ticket["status"] == "pending" and ticket["queue"] is None and ticket["unread_count"] == 1
    menu = bodies(o.sup_api, tid)[-1]
    assert "Maria! Escolha um setor:\n\n1 - Vendas\n2 - Suporte" in menu
    # no queue yet: the members don't see it
    assert o.ana_api.get(f"/api/v1/ticket/{tid}").status_code == 404
    assert o.ana_api.get("/api/v1/ticket/").get_json()["count"] == 0

    # 2. the customer picks Suporte
    engine.submit_and_drain(engine.message(o.conn, body="2"))
    assert bodies(o.sup_api, tid)[-1] == f"Suporte: olá, Maria! Protocolo {tid}"

    # 3. the right members see the pending ticket, the others get 404
    r = o.ana_api.get("/api/v1/ticket/?status=pending")
    assert [t["id"] for t in r.get_json()["result"]] == [tid]
    assert r.get_json()["result"][0]["queue"]["name"] == "Suporte"
    assert o.caio_api.get(f"/api/v1/ticket/{tid}").status_code == 404
    assert o.caio_api.get(f"/api/v1/ticket/{tid}/messages").status_code == 404
    assert o.caio_api.post(f"/api/v1/ticket/{tid}/accept").status_code == 404
    assert o.caio_api.get("/api/v1/ticket/").get_json() == {"count": 0, "result": []}

    # 4. accept: open with Ana, operator greeting
    r = o.ana_api.post(f"/api/v1/ticket/{tid}/accept")
    assert r.status_code == 200 and r.get_json()["result"]["status"] == "open"
    assert r.get_json()["result"]["user"]["name"] == "Ana"
    assert bodies(o.ana_api, tid)[-1] == "Olá Maria, sou Ana e vou te atender."
    assert o.sup_api.post(f"/api/v1/ticket/{tid}/accept").get_json() == {
        "message": "Este ticket já está em atendimento."}

    # 5. an agent's message
    r = o.ana_api.post(f"/api/v1/ticket/{tid}/messages", json={"body": "Vou verificar <b>isso</b>."})
    assert r.status_code == 201 and r.get_json()["result"]["status"] == "queued"
    assert r.get_json()["result"]["body"] == "Vou verificar <b>isso</b>."  # stored as typed; escaped by the UI

    # 6. transfer to Vendas: the transfer message; Ana loses it, Caio gets it
    r = o.ana_api.post(f"/api/v1/ticket/{tid}/transfer", json={"queue": o.vendas.id})
    assert r.status_code == 200 and r.get_json()["result"] is None
    assert o.ana_api.get(f"/api/v1/ticket/{tid}").status_code == 404
    assert bodies(o.caio_api, tid)[-1] == "Você foi transferido para Vendas."
    assert o.caio_api.get(f"/api/v1/ticket/{tid}").get_json()["result"]["status"] == "pending"
    assert o.caio_api.post(f"/api/v1/ticket/{tid}/accept").status_code == 200

    # 7. close with rating
    r = o.caio_api.post(f"/api/v1/ticket/{tid}/close", json={"rating": o.template.id})
    assert r.status_code == 200 and r.get_json()["result"]["status"] == "closed"
    assert r.get_json()["result"]["awaiting_rating"] is True
    assert bodies(o.caio_api, tid)[-2:] == ["Obrigado pelo contato!",
                                            "Como foi o atendimento de Caio?\n\n1 - Ruim\n2 - Bom\n3 - Ótimo"]

    # 8. the customer rates: stored against the ticket and Caio
    engine.submit_and_drain(engine.message(o.conn, body="3"))
    rating = engine.db.session.query(Rating).one()
    assert (rating.ticket_id, rating.user_id, rating.value, rating.label) == (tid, o.caio.id, 3, "Ótimo")
    assert o.caio_api.get(f"/api/v1/ticket/{tid}").get_json()["result"]["awaiting_rating"] is False
    assert o.sup_api.get("/api/v1/ticket/").get_json()["count"] == 1  # no new ticket


def test_scenario_group_messages(engine, office, factory):
    o = office
    conn = factory.connection(queues=[o.suporte])
    engine.submit_and_drain(engine.group_message(conn, phone="5511911111111", name="Ana Cliente", body="oi"))
    engine.submit_and_drain(engine.group_message(conn, phone="5511922222222", name="Beto", body="olá"))
    [t] = o.ana_api.get("/api/v1/ticket/").get_json()["result"]
    assert t["is_group"] and t["contact"]["name"] == "Grupo Vendas" and t["unread_count"] == 2
    msgs = o.ana_api.get(f"/api/v1/ticket/{t['id']}/messages").get_json()["result"]
    assert [m["sender_name"] for m in msgs] == ["Ana Cliente", "Beto"]
    # Ações em Grupo = no: Ana sees it but may not act; a Supervisor may
    r = o.ana_api.post(f"/api/v1/ticket/{t['id']}/accept")
    assert r.status_code == 403 and r.get_json()["message"] == "Só Admins e Supervisores podem atuar em conversas de grupo."
    assert o.sup_api.post(f"/api/v1/ticket/{t['id']}/accept").status_code == 200
    # ignoring groups: nothing more is created
    engine.settings(ignore_group_messages=True)
    engine.submit_and_drain(engine.group_message(conn, group="120363000000000099", body="outro grupo"))
    assert o.sup_api.get("/api/v1/ticket/").get_json()["count"] == 1


def test_scenario_call_rejected(engine, office):
    o = office
    engine.submit_and_drain(engine.call(o.conn, name="Maria", channel_id="CALL-9"))
    [t] = o.sup_api.get("/api/v1/ticket/").get_json()["result"]
    msgs = o.sup_api.get(f"/api/v1/ticket/{t['id']}/messages").get_json()["result"]
    assert msgs[0]["type"] == "call" and "Chamada de voz perdida" in msgs[0]["body"]
    assert msgs[1]["body"] == "Não atendemos ligações, Maria. Escreva aqui."
    assert engine.commands(o.conn)[0] == {"op": "reject_call", "call_id": "CALL-9", "chat_id": "5511988887777@c.us"}


def test_scenario_business_hours(engine, office, factory):
    o = office
    engine.settings(business_hours=True, open_tickets_out_of_hours=False, timezone="America/Sao_Paulo")
    today = dt.datetime.now(ZoneInfo("America/Sao_Paulo")).weekday()
    # open only on another weekday: now is out of hours
    engine.db.session.add(BusinessHours(queue_id=o.suporte.id, weekday=(today + 3) % 7, start=dt.time(8),
                                        end=dt.time(18)))
    o.suporte.out_of_hours_message = "Suporte fechado agora, {{nome}}."
    engine.db.session.commit()
    engine.submit_and_drain(engine.message(o.conn, name="Maria"))
    engine.submit_and_drain(engine.message(o.conn, body="2"))
    [t] = o.sup_api.get("/api/v1/ticket/").get_json()["result"]
    assert t["status"] == "closed" and t["queue"]["name"] == "Suporte"
    assert bodies(o.sup_api, t["id"])[-1] == "Suporte fechado agora, Maria."


def test_scenario_mandatory_rating(engine, office):
    o = office
    engine.settings(rating_required=True, default_rating_template_id=None)
    engine.submit_and_drain(engine.message(o.conn))
    engine.submit_and_drain(engine.message(o.conn, body="2"))
    [t] = o.ana_api.get("/api/v1/ticket/").get_json()["result"]
    assert o.ana_api.post(f"/api/v1/ticket/{t['id']}/accept").status_code == 200
    r = o.ana_api.post(f"/api/v1/ticket/{t['id']}/close")
    assert r.status_code == 422
    assert r.get_json()["message"] == "É obrigatório avaliar para resolver este ticket: escolha uma avaliação."
    assert o.ana_api.get(f"/api/v1/ticket/{t['id']}").get_json()["result"]["status"] == "open"
    r = o.ana_api.post(f"/api/v1/ticket/{t['id']}/close", json={"rating": o.template.id})
    assert r.status_code == 200 and r.get_json()["result"]["awaiting_rating"]


def test_close_with_rating_without_naming_a_template(engine, office):
    """{"with_rating": true}, as the chat's button: the external rating link needs no template, so
    an integration can send it; anything but a boolean is refused and changes nothing."""
    o = office
    engine.settings(external_rating=True, external_rating_url="https://avalie.exemplo.com.br/?p={{protocolo}}",
                    default_rating_template_id=None)
    engine.submit_and_drain(engine.message(o.conn))
    engine.submit_and_drain(engine.message(o.conn, body="2"))
    [t] = o.ana_api.get("/api/v1/ticket/").get_json()["result"]
    assert o.ana_api.post(f"/api/v1/ticket/{t['id']}/accept").status_code == 200
    sent = bodies(o.ana_api, t["id"])
    for bad in ("true", 1, None, [True]):
        r = o.ana_api.post(f"/api/v1/ticket/{t['id']}/close", json={"with_rating": bad})
        assert r.status_code == 422, bad
        assert r.get_json()["message"] == '"with_rating" deve ser true ou false.'
    assert o.ana_api.get(f"/api/v1/ticket/{t['id']}").get_json()["result"]["status"] == "open"
    assert bodies(o.ana_api, t["id"]) == sent
    r = o.ana_api.post(f"/api/v1/ticket/{t['id']}/close", json={"with_rating": True})
    assert r.status_code == 200 and r.get_json()["result"]["status"] == "closed"
    assert bodies(o.ana_api, t["id"])[-1] == f"https://avalie.exemplo.com.br/?p={t['id']}"


# -- the API's own rules --------------------------------------------------------------------------

def test_unauthenticated_calls_are_refused(engine, office, client):
    assert client.get("/api/v1/ticket/").status_code == 401
    assert client.post("/api/v1/ticket/1/accept").status_code == 401


def test_filters_and_pagination(engine, office):
    o = office
    for n in range(5):
        engine.submit_and_drain(engine.message(o.conn, phone=f"55119000000{n:02d}"))
    api = o.sup_api
    page = api.get("/api/v1/ticket/?page=0&page_size=2").get_json()
    assert page["count"] == 5 and len(page["result"]) == 2
    rest = api.get("/api/v1/ticket/?page=2&page_size=2").get_json()
    assert len(rest["result"]) == 1
    assert api.get("/api/v1/ticket/?status=open").get_json()["count"] == 0
    engine.submit_and_drain(engine.message(o.conn, phone="5511900000000", body="1"))
    assert [t["queue"]["id"] for t in api.get(f"/api/v1/ticket/?queue={o.vendas.id}").get_json()["result"]] == [o.vendas.id]
    for bad in ("status=aberto", "queue=abc", "page=-1", "page_size=1000", "page=x"):
        r = api.get(f"/api/v1/ticket/?{bad}")
        assert r.status_code == 400 and r.get_json()["message"], bad


def test_unknown_or_malformed_ids_are_404(engine, office):
    for url in ("/api/v1/ticket/999", "/api/v1/ticket/abc", "/api/v1/ticket/99999999999999"):
        assert office.sup_api.get(url).status_code == 404
    assert office.sup_api.post("/api/v1/ticket/abc/close").status_code == 404


def test_bad_bodies(engine, office):
    o = office
    engine.submit_and_drain(engine.message(o.conn))
    tid = o.sup_api.get("/api/v1/ticket/").get_json()["result"][0]["id"]
    r = o.sup_api.post(f"/api/v1/ticket/{tid}/messages", json={"body": ""})
    assert r.status_code == 422 and r.get_json()["message"] == "A mensagem está vazia."
    r = o.sup_api.post(f"/api/v1/ticket/{tid}/messages", json=["x"])
    assert r.status_code == 400
    r = o.sup_api.post(f"/api/v1/ticket/{tid}/transfer", json={})
    assert r.status_code == 422 and r.get_json()["message"] == "Escolha uma fila ou um atendente para a transferência."
    r = o.sup_api.post(f"/api/v1/ticket/{tid}/transfer", json={"queue": 424242})
    assert r.status_code == 422 and r.get_json()["message"] == "Fila não encontrada."


def test_return_reopen_and_retry_endpoints(engine, office):
    from app.services import outbound

    o = office
    engine.submit_and_drain(engine.message(o.conn))
    engine.submit_and_drain(engine.message(o.conn, body="2"))
    tid = o.ana_api.get("/api/v1/ticket/").get_json()["result"][0]["id"]
    o.ana_api.post(f"/api/v1/ticket/{tid}/accept")
    r = o.ana_api.post(f"/api/v1/ticket/{tid}/return")
    assert r.status_code == 200 and r.get_json()["result"]["status"] == "pending"
    assert o.ana_api.post(f"/api/v1/ticket/{tid}/return").status_code == 400
    o.ana_api.post(f"/api/v1/ticket/{tid}/accept")
    mid = o.ana_api.post(f"/api/v1/ticket/{tid}/messages", json={"body": "oi"}).get_json()["result"]["id"]
    assert o.ana_api.post(f"/api/v1/ticket/{tid}/messages/{mid}/retry").status_code == 400  # not failed
    outbound.claim(mid)
    outbound.mark_failed(mid, "sem conexão")
    msgs = o.ana_api.get(f"/api/v1/ticket/{tid}/messages").get_json()["result"]
    assert [(m["status"], m["error"]) for m in msgs if m["id"] == mid] == [("failed", "sem conexão")]
    r = o.ana_api.post(f"/api/v1/ticket/{tid}/messages/{mid}/retry")
    assert r.status_code == 200 and r.get_json()["result"]["status"] == "queued"
    assert o.caio_api.post(f"/api/v1/ticket/{tid}/messages/{mid}/retry").status_code == 404
    assert o.ana_api.post(f"/api/v1/ticket/{tid}/close").status_code == 200
    r = o.ana_api.post(f"/api/v1/ticket/{tid}/reopen")
    assert r.status_code == 200 and r.get_json()["result"]["status"] == "open"
    assert o.ana_api.post(f"/api/v1/ticket/{tid}/reopen").status_code == 400


def test_a_failed_message_goes_again_only_where_the_agent_may_send(engine, office, factory, client):
    """Sent again after the farewell, an agent's old message reached the customer of a closed
    ticket; and another agent of the queue could send it on a ticket they do not handle. A retry
    follows the rules of sending."""
    from app.services import outbound

    o = office
    factory.member(queues=[o.suporte], name="Bia", email="bia@teste.com.br")
    bia_api = api_login(client, "bia@teste.com.br")
    engine.submit_and_drain(engine.message(o.conn))
    engine.submit_and_drain(engine.message(o.conn, body="2"))
    tid = o.ana_api.get("/api/v1/ticket/").get_json()["result"][0]["id"]
    o.ana_api.post(f"/api/v1/ticket/{tid}/accept")
    mid = o.ana_api.post(f"/api/v1/ticket/{tid}/messages", json={"body": "segue o boleto"}).get_json()["result"]["id"]
    outbound.claim(mid)
    outbound.mark_failed(mid, "sem conexão")
    r = bia_api.post(f"/api/v1/ticket/{tid}/messages/{mid}/retry")
    assert r.status_code == 403 and r.get_json()["message"] == "Este ticket está sendo atendido por outro atendente."
    assert o.ana_api.post(f"/api/v1/ticket/{tid}/close").status_code == 200
    for api in (o.ana_api, o.sup_api):
        r = api.post(f"/api/v1/ticket/{tid}/messages/{mid}/retry")
        assert r.status_code == 400 and r.get_json()["message"] == "Este ticket está resolvido; reabra-o para enviar mensagens."
    msgs = o.ana_api.get(f"/api/v1/ticket/{tid}/messages").get_json()["result"]
    assert [m["status"] for m in msgs if m["id"] == mid] == ["failed"]
    # Reopened, the agent may send it again.
    assert o.ana_api.post(f"/api/v1/ticket/{tid}/reopen").status_code == 200
    r = o.ana_api.post(f"/api/v1/ticket/{tid}/messages/{mid}/retry")
    assert r.status_code == 200 and r.get_json()["result"]["status"] == "queued"


def test_openapi_describes_the_ticket_api(engine, office, admin_api):
    paths = admin_api.get("/api/v1/_openapi").get_json()["paths"]
    for path in ("/", "/{ticket_id}", "/{ticket_id}/messages", "/{ticket_id}/accept", "/{ticket_id}/transfer",
                 "/{ticket_id}/close", "/{ticket_id}/reopen", "/{ticket_id}/return",
                 "/{ticket_id}/messages/{message_id}/retry"):
        assert "/api/v1/ticket" + path in paths
