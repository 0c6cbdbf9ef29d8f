"""Message signatures ("Assinar"): a member's own messages (typed, quick replies, a file's caption)
reach WhatsApp as "*Nome:*\\n" + text while the member's switch is on; automatic messages never;
the body is stored as typed; what goes on the wire is decided when the message is queued."""
import io

import pytest

from app.models import Member, Message, QuickReply, RatingOption, RatingTemplate
from app.services import DomainError, attachments, outbound, quick_replies, team, tickets
from app.services.events import Changes


@pytest.fixture
def desk(engine, factory):
    """A connection with two queues (chatbot menu), greetings and farewell on, Ana Souza in both
    queues with her signature on, a rating template, and Maria's ticket accepted by Ana."""
    engine.settings(chatbot_type="text", operator_greeting=True, operator_greeting_text="Olá, sou {{atendente}}",
                    transfer_message=True, transfer_message_text="Transferido para {{fila}}",
                    operator_farewell=True, operator_farewell_text="Até logo, {{nome}}", send_ratings=True)
    vendas = factory.queue(name="Vendas", bot_order=1, greeting_message="Vendas aqui, {{nome}}")
    suporte = factory.queue(name="Suporte", bot_order=2, greeting_message="Suporte aqui")
    c = factory.connection(queues=[vendas, suporte], greeting_message="Bem-vindo! Escolha:")
    ana = factory.member(queues=[vendas, suporte], name="Ana Souza")
    ana.sign_messages = True  # Ana turned her "Assinar" switch on
    template = RatingTemplate(name="Padrão", message="Avalie {{atendente}}:",
                              options=[RatingOption(value=1, label="Ruim"), RatingOption(value=2, label="Bom")])
    engine.db.session.add(template)
    engine.db.session.commit()
    engine.deliver(engine.message(c, name="Maria"))
    engine.deliver(engine.message(c, body="1"))
    ticket = engine.tickets()[0]
    tickets.accept(ana, ticket.id)
    engine.db.session.commit()
    return type("Desk", (), {"c": c, "vendas": vendas, "suporte": suporte, "ana": ana, "template": template,
                             "ticket": ticket})()


def send(engine, member, ticket_id, body):
    message, _changes = tickets.send_message(engine.db.session.get(Member, member.id), ticket_id, body)
    engine.db.session.commit()
    return message.id


def wire(message_id):
    """The text the bridge hands to WhatsApp for the message (claim commits the attempt)."""
    return outbound.claim(message_id).body


def test_a_typed_message_goes_signed_and_is_stored_as_typed(engine, desk):
    message_id = send(engine, desk.ana, desk.ticket.id, "Bom dia! Vou verificar.")
    assert wire(message_id) == "*Ana Souza:*\nBom dia! Vou verificar."
    stored = engine.db.session.get(Message, message_id)
    assert (stored.body, stored.signed, stored.sender_name) == ("Bom dia! Vou verificar.", True, "Ana Souza")
    assert engine.tickets()[0].last_message == "Bom dia! Vou verificar."  # the list shows what was typed


def test_a_quick_reply_goes_signed(engine, desk):
    engine.db.session.add(QuickReply(shortcut="prazo", message="Entregamos em 3 dias, {{nome}}."))
    engine.db.session.commit()
    [reply] = quick_replies.for_ticket(desk.ana, desk.ticket.id)  # what the composer puts in the box
    message_id = send(engine, desk.ana, desk.ticket.id, reply["message"])
    assert wire(message_id) == "*Ana Souza:*\nEntregamos em 3 dias, Maria."


def test_the_switch_off_sends_unsigned_and_on_again_signs(engine, desk):
    team.set_signature(desk.ana, False)
    engine.db.session.commit()
    unsigned = send(engine, desk.ana, desk.ticket.id, "Sem assinatura")
    team.set_signature(engine.db.session.get(Member, desk.ana.id), True)
    engine.db.session.commit()
    signed = send(engine, desk.ana, desk.ticket.id, "Com assinatura")
    assert wire(unsigned) == "Sem assinatura"
    assert wire(signed) == "*Ana Souza:*\nCom assinatura"
    assert engine.db.session.get(Message, unsigned).signed is False


def test_members_sign_only_once_they_turn_the_switch_on(factory, db):
    assert factory.member(name="Nova").sign_messages is False


def test_the_switch_takes_only_true_or_false_and_tells_the_members_other_screens(engine, desk):
    for bad in (None, "false", 0, 1, "sim", [], {}):
        with pytest.raises(DomainError) as refused:
            team.set_signature(desk.ana, bad)
        assert refused.value.status == 422
        assert refused.value.message == "A assinatura deve ser ligada (true) ou desligada (false)."
    engine.db.session.commit()
    assert engine.db.session.get(Member, desk.ana.id).sign_messages is True  # nothing changed
    changes = team.set_signature(desk.ana, False)
    assert [(e.name, e.data, e.rooms) for e in changes.events()] == [
        ("signature", {"on": False}, [f"user:{desk.ana.id}"])]  # only the member's own room


def test_automatic_messages_are_never_signed(engine, desk, factory):
    """Chatbot menu, queue greeting, operator greeting, transfer and farewell templates, rating and
    call rejection: none is the member's own words, even when a member's action sent it."""
    engine.settings(accept_calls=False, call_rejection_message="Não atendemos ligações")
    engine.deliver(engine.call(desk.c))
    tickets.transfer(desk.ana, desk.ticket.id, queue_id=desk.suporte.id)
    engine.db.session.commit()
    tickets.accept(desk.ana, desk.ticket.id)
    engine.db.session.commit()
    tickets.close(desk.ana, desk.ticket.id, rating_template_id=desk.template.id)
    engine.db.session.commit()
    sent = engine.sent(desk.ticket)
    bodies = [m.body for m in sent]
    assert bodies[0].startswith("Bem-vindo! Escolha:") and "1 - Vendas" in bodies[0]  # the menu
    assert bodies[1:] == ["Vendas aqui, Maria", "Olá, sou Ana Souza", "Não atendemos ligações",
                          "Transferido para Suporte", "Olá, sou Ana Souza", "Até logo, Maria",
                          "Avalie Ana Souza:\n\n1 - Ruim\n2 - Bom"]
    assert [m.signed for m in sent] == [False] * len(sent)
    assert [wire(m.id) for m in sent] == bodies  # on the wire exactly as written


def test_a_file_caption_is_signed_and_a_file_without_caption_goes_as_it_is(engine, desk, app):
    def send_file(caption):
        stored = attachments.store(io.BytesIO(b"%PDF-1.4 boleto"), "boleto.pdf", app.config["MEDIA_DIR"])
        message, _changes = tickets.send_media(engine.db.session.get(Member, desk.ana.id), desk.ticket.id,
                                               stored, caption=caption)
        engine.db.session.commit()
        return message.id

    with_caption, without_caption, blank_caption = send_file("Segue o boleto"), send_file(""), send_file("  ")
    command = outbound.claim(with_caption)
    assert (command.body, command.media["name"]) == ("*Ana Souza:*\nSegue o boleto", "boleto.pdf")
    assert engine.db.session.get(Message, with_caption).body == "Segue o boleto"
    for message_id in (without_caption, blank_caption):
        assert engine.db.session.get(Message, message_id).signed is False
        assert wire(message_id).strip() == ""


def test_a_retry_sends_what_was_decided_when_the_message_was_queued(engine, desk):
    """Renamed and switched off after the send failed: the retry still carries the signature and
    the name of the first attempt (what the chat screen shows above the message)."""
    message_id = send(engine, desk.ana, desk.ticket.id, "Seu pedido saiu")
    first = wire(message_id)
    outbound.mark_failed(message_id, "sem rede")
    ana = engine.db.session.get(Member, desk.ana.id)
    ana.first_name = "Ana Paula"
    team.set_signature(ana, False)
    engine.db.session.commit()
    outbound.retry(message_id, ana, Changes())
    engine.db.session.commit()
    assert wire(message_id) == first == "*Ana Souza:*\nSeu pedido saiu"


def test_a_restart_resends_the_same_text(engine, desk):
    """The bridge died after claiming: the message is claimed again from the outbox (pending_for)
    with the same wire text, whatever the member changed meanwhile."""
    message_id = send(engine, desk.ana, desk.ticket.id, "Aguarde um instante")
    first = wire(message_id)
    ana = engine.db.session.get(Member, desk.ana.id)
    team.set_signature(ana, False)
    ana.first_name = "Outra"
    engine.db.session.commit()
    assert message_id in outbound.pending_for(desk.c.id)  # still queued: the bridge claims it again
    assert wire(message_id) == first


def test_asterisks_in_a_name_do_not_break_the_bold(engine, desk):
    ana = engine.db.session.get(Member, desk.ana.id)
    ana.first_name, ana.last_name = "*Ana*", "  da   Silva "
    engine.db.session.commit()
    assert wire(send(engine, ana, desk.ticket.id, "Oi")) == "*Ana da Silva:*\nOi"


def test_a_member_sending_through_the_rest_api_gets_their_own_preference(engine, desk, client):
    from tests.conftest import api_login

    api = api_login(client, desk.ana.email)
    r = api.post(f"/api/v1/ticket/{desk.ticket.id}/messages", json={"body": "Pela API"})
    assert r.status_code == 201, r.get_data(as_text=True)
    result = r.get_json()["result"]
    assert result["body"] == "Pela API" and "signed" not in result  # the API's shape is unchanged
    assert wire(result["id"]) == "*Ana Souza:*\nPela API"
    team.set_signature(engine.db.session.get(Member, desk.ana.id), False)
    engine.db.session.commit()
    r = api.post(f"/api/v1/ticket/{desk.ticket.id}/messages", json={"body": "Pela API sem nome"})
    assert wire(r.get_json()["result"]["id"]) == "Pela API sem nome"
