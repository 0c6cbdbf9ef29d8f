"""The contract (app/bridge/contract.py) against the installed wa-js and the simulator's fake."""
import re

import pytest

from app.bridge import contract
from app.bridge.whatsapp_web import CHROMIUM_ARGS, USER_AGENT, find_chromium

CHECK = """(functions) => {
  const missing = [];
  for (const path of Object.values(functions)) {
    let target = window.WPP;
    for (const part of path.split('.')) target = target ? target[part] : undefined;
    if (typeof target !== 'function') missing.push(path);
  }
  return missing;
}"""


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=find_chromium(None), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.mark.browser
def test_installed_wa_js_has_every_contract_function(browser):
    assert contract.WA_JS_PATH.is_file(), "run npm ci"
    page = browser.new_page(user_agent=USER_AGENT)
    page.add_init_script(script=contract.config_script())
    page.add_init_script(path=str(contract.WA_JS_PATH))
    page.goto("data:text/html,<title>x</title>")
    assert page.evaluate("typeof window.WPP") == "object"
    assert page.evaluate(CHECK, contract.FUNCTIONS) == []
    # The listener waits for this flag before subscribing to events.
    assert page.evaluate("typeof window.WPP.isReady") == "boolean"
    # Analytics were configured off before wa-js loaded.
    assert page.evaluate("window.WPPConfig.disableGoogleAnalytics") is True


def test_installed_wa_js_emits_every_contract_event():
    source = contract.WA_JS_PATH.read_text()
    missing = [e for e in contract.EVENTS if f'"{e}"' not in source]
    assert missing == []


def test_a_name_outside_the_contract_would_be_caught(browser):
    """The check above really fails for a function wa-js does not have."""
    page = browser.new_page()
    page.add_init_script(path=str(contract.WA_JS_PATH))
    page.goto("data:text/html,<title>x</title>")
    assert page.evaluate(CHECK, {"bogus": "chat.sendTelepathicMessage"}) == ["chat.sendTelepathicMessage"]


def test_listener_touches_wpp_only_through_the_contract():
    source = contract.LISTENER_PATH.read_text()
    direct = [m for m in re.findall(r"WPP\.(\w+)", source) if m not in ("isReady",)]
    assert direct == [], f"listener.js calls WPP directly: {direct}"
    used = set(re.findall(r"fn\('(\w+)'\)", source))
    assert used <= set(contract.FUNCTIONS), used - set(contract.FUNCTIONS)
    events = set(re.findall(r"on\('([\w.]+)'", source))
    assert events == set(contract.EVENTS)


@pytest.mark.browser
def test_simulator_fake_wpp_honours_the_contract(browser, sim):
    page = browser.new_page()
    page.goto(sim.base + "/web/")
    page.wait_for_function("window.WPP && window.WPP.simulator")
    assert page.evaluate(CHECK, contract.FUNCTIONS) == []
    # The page's CSP blocks inline scripts, like WhatsApp's.
    assert page.evaluate("window.__inlineScriptRan") is None
