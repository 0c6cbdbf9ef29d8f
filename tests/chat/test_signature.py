"""The composer's "Assinar" switch (POST /chat/api/signature): each member turns their own
signature on or off, kept on their profile; the screen's other pages hear it (Socket.IO)."""
import json
import time

import pytest

from app.models import Member
from app.services import outbound


def boot(client) -> dict:
    return json.loads(client.page.split('<script id="chat-boot" type="application/json">')[1].split("</script>")[0])


def signs(db, member) -> bool:
    db.session.expire_all()
    return db.session.get(Member, member.id).sign_messages


def test_the_switch_is_off_at_first_and_the_member_turns_it_on_and_off(desk, chat_client, db):
    ana = chat_client("ana@teste.com.br")
    assert boot(ana)["user"]["sign"] is False
    assert 'id="chat-sign" role="switch">' in ana.page and "Assinar" in ana.page
    r = ana.post("/chat/api/signature", json={"on": True})
    assert (r.status_code, r.get_json()) == (200, {"on": True})
    assert signs(db, desk.ana) is True
    again = chat_client("ana@teste.com.br")  # another device: the profile remembers
    assert boot(again)["user"]["sign"] is True and 'id="chat-sign" role="switch" checked' in again.page
    assert again.post("/chat/api/signature", json={"on": False}).get_json() == {"on": False}
    assert signs(db, desk.ana) is False


def test_a_member_turns_only_their_own_switch(desk, chat_client, db):
    """The request names no member: whatever another member sends, it is their own switch."""
    bruno = chat_client("bruno@teste.com.br")
    for payload in ({"on": True, "member": desk.ana.id}, {"on": True, "user_id": desk.ana.id, "id": desk.ana.id}):
        assert bruno.post("/chat/api/signature", json=payload).get_json() == {"on": True}
    assert signs(db, desk.bruno) is True
    assert signs(db, desk.ana) is False
    assert bruno.post(f"/chat/api/signature?member={desk.ana.id}", json={"on": False}).status_code == 200
    assert signs(db, desk.ana) is False and signs(db, desk.bruno) is False


@pytest.mark.parametrize("payload", [{}, {"on": None}, {"on": "false"}, {"on": 0}, {"on": 1}, {"on": "sim"},
                                     {"on": [False]}, ["on"], "off"])
def test_bad_input_gets_a_clear_error_and_changes_nothing(desk, chat_client, db, payload):
    ana = chat_client("ana@teste.com.br")
    ana.post("/chat/api/signature", json={"on": True})  # on: a bad value read as false would show
    r = ana.post("/chat/api/signature", json=payload)
    assert r.status_code == 422
    assert r.get_json() == {"message": "A assinatura deve ser ligada (true) ou desligada (false)."}
    assert signs(db, desk.ana) is True


def test_no_csrf_token_or_no_login_changes_nothing(desk, chat_client, app, db):
    ana = chat_client("ana@teste.com.br")
    for headers in ({}, {"X-CSRFToken": "forjado"}):
        r = ana.post("/chat/api/signature", json={"on": True}, headers=headers)
        assert r.status_code == 400 and "expirou" in r.get_json()["message"]
    anonymous = app.test_client().post("/chat/api/signature", json={"on": True})
    assert anonymous.status_code == 401
    assert signs(db, desk.ana) is False


def test_messages_sent_from_the_screen_follow_the_switch_and_search_finds_what_was_typed(desk, chat_client, db):
    t = desk.ticket(desk.vendas, name="Maria")
    ana = chat_client("ana@teste.com.br")
    ana.post(f"/chat/api/tickets/{t.id}/accept")
    ana.post("/chat/api/signature", json={"on": True})
    signed = ana.post(f"/chat/api/tickets/{t.id}/messages", json={"body": "Pedido confirmado"}).get_json()["message"]
    ana.post("/chat/api/signature", json={"on": False})
    plain = ana.post(f"/chat/api/tickets/{t.id}/messages", json={"body": "Mais alguma coisa?"}).get_json()["message"]
    assert (signed["body"], signed["sender_name"]) == ("Pedido confirmado", "Ana")  # as typed, name above it
    assert outbound.claim(signed["id"]).body == "*Ana:*\nPedido confirmado"
    assert outbound.claim(plain["id"]).body == "Mais alguma coisa?"
    assert ana.ids(tab="open", q="pedido confirmado") == [t.id]
    assert ana.ids(tab="open", q="Ana") == []  # the signature is not text of the conversation


@pytest.mark.slow
def test_the_members_other_screens_hear_the_switch_and_no_one_else(stack, desk):
    import requests

    from tests.chat.conftest import CSRF_META
    from tests.conftest import SocketRecorder, session_cookie

    stack.start_web()
    ana_phone = SocketRecorder(stack.url, session_cookie(stack.url, "ana@teste.com.br"))
    bruno = SocketRecorder(stack.url, session_cookie(stack.url, "bruno@teste.com.br"))
    try:
        http = requests.Session()
        http.headers["Cookie"] = session_cookie(stack.url, "ana@teste.com.br")
        csrf = CSRF_META.search(http.get(stack.url + "/chat/", timeout=10).text).group(1)
        r = http.post(stack.url + "/chat/api/signature", json={"on": True}, headers={"X-CSRFToken": csrf}, timeout=10)
        assert r.json() == {"on": True}
        deadline = time.monotonic() + 15
        while ("signature", {"on": True}) not in ana_phone.events and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ("signature", {"on": True}) in ana_phone.events
        time.sleep(1.0)  # anything else in flight has arrived by now
        assert [e for e, _ in bruno.events if e == "signature"] == []
    finally:
        ana_phone.close()
        bruno.close()
