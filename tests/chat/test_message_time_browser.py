"""When a message was sent, as the chat shows it."""
import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.chat.test_browser import agents, customer_writes, desk_live  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_message_that_reached_us_late_shows_when_the_customer_wrote_it(desk_live, agents, db):
    """WhatsApp delivered it three hours after the customer wrote it (the system was down): the
    agent reads the customer's time, not the time it was stored (which made a customer waiting
    for hours look like one who had just written)."""
    written = int(time.time()) - 3 * 3600
    customer_writes(desk_live, desk_live.vendas, "Escrevi faz tempo", name="Paciente", timestamp=written)
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    ana.row("Paciente").click()
    bubble = ana.page.locator(".chat-msg.in", has_text="Escrevi faz tempo")
    bubble.wait_for()
    local = dt.datetime.fromtimestamp(written, ZoneInfo("America/Sao_Paulo"))
    expect(bubble.locator(".chat-msg-meta")).to_have_text(local.strftime("%H:%M"))
