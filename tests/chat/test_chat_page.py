"""The chat page and its JSON endpoints, in-process (Flask test client, session login)."""
import io
import json

from app.models import Message, Ticket


def test_page_in_portuguese_with_tabs_for_the_profile(desk, chat_client):
    ana = chat_client("ana@teste.com.br")
    assert "Atendendo" in ana.page and "Aguardando" in ana.page and "Resolvidos" in ana.page
    assert 'data-tab="all"' not in ana.page  # Todos: Admins and Supervisors only
    boot = json.loads(ana.page.split('<script id="chat-boot" type="application/json">')[1].split("</script>")[0])
    assert [q["name"] for q in boot["queues"]] == ["Vendas"]  # filter chips: her queues only
    assert boot["strings"]["today"] == "Hoje"
    sara = chat_client("sara@teste.com.br")
    assert 'data-tab="all"' in sara.page and ">Todos<" in sara.page


def test_anonymous_gets_no_page_and_no_data(app, desk):
    client = app.test_client()
    assert client.get("/chat/").status_code in (302, 401)
    assert client.get("/chat/api/tickets").status_code == 401
