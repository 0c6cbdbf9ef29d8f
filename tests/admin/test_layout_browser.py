"""The top bar on the screens members use most (app/static/admin/conecta.css): one line on the
common notebook widths, menu and the member's name included (Flask-AppBuilder's 1170 px container
wrapped it to a second line at 1366 px)."""
import pytest

from tests.conftest import CHROMIUM, ROOT, browser_login

SHOTS = ROOT / "test-artifacts" / "screenshots"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("width", [1280, 1366])
def test_the_top_bar_is_one_line_on_a_notebook(app, stack, db, width):
    from playwright.sync_api import sync_playwright

    from app.models import Member
    from tests.conftest import ADMIN_EMAIL

    admin = db.session.query(Member).filter_by(email=ADMIN_EMAIL).one()
    admin.first_name, admin.last_name = "Maria Aparecida", "Conceição"
    db.session.commit()
    stack.start_web()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 768}, locale="pt-BR")
            browser_login(page, stack.url + "/login/")
            for path in ("/chat/", "/queues/list/", "/team/list/", "/settings/form"):
                page.goto(stack.url + path)
                bar = page.locator(".navbar").first
                brand = page.locator(".navbar-brand").first.bounding_box()
                user = page.locator(".navbar-right").last.bounding_box()
                assert bar.bounding_box()["height"] < 60, (path, bar.bounding_box())
                assert abs(user["y"] - brand["y"]) < 10, (path, brand, user)  # the name on the brand's line
        finally:
            browser.close()


FORMS = ("/connections/edit/{connection}", "/connections/add", "/team/add", "/team/edit/{member}",
         "/settings/form", "/queues/add", "/queues/edit/{queue}")

# Every field of the form (text boxes, text areas, selects, Select2 boxes, check boxes), its label
# and its help text, with their boxes; and how far the page and each form table scroll sideways.
MEASURE = """() => {
    const box = e => { const r = e.getBoundingClientRect(); return {x: r.left, right: r.right, top: r.top, bottom: r.bottom, w: r.width}; };
    const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
    const rows = [...document.querySelectorAll('#model_form tr, form tr')].filter(tr => tr.querySelector('label'));
    return {
        page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
        tables: [...document.querySelectorAll('.table-responsive')].map(t => [t.scrollWidth, t.clientWidth]),
        rows: rows.map(tr => ({
            label: tr.querySelector('label').textContent.trim(),
            labelBox: box(tr.querySelector('label')),
            fields: [...tr.querySelectorAll('input:not([type=hidden]), textarea, select, .select2-container, .help-block')]
                .filter(e => shown(e) && !e.parentElement.closest('.select2-container')).map(e => ({what: e.tagName + '.' + e.className + '#' + e.id, type: e.type || '', ...box(e)})),
        })),
    };
}"""


def _form_paths(factory):
    queue = factory.queue(name="Vendas")
    connection = factory.connection(name="WhatsApp Demo", queues=[queue])
    member = factory.member("user", queues=[queue], name="Carla Atendente")
    ids = {"connection": connection.id, "member": member.id, "queue": queue.id}
    return [path.format(**ids) for path in FORMS]


def _measured_forms(stack, factory, browser, width, height, screenshots=None):
    """Each admin form page at width×height, logged in as the Admin: (path, page, MEASURE's figures)."""
    paths = _form_paths(factory)
    stack.start_web()
    context = browser.new_context(viewport={"width": width, "height": height}, locale="pt-BR")
    try:
        page = context.new_page()
        browser_login(page, stack.url + "/login/")
        for path in paths:
            page.goto(stack.url + path)
            page.locator("form tr label").first.wait_for()
            if screenshots:
                shot(page, screenshots + path.replace("/", "-"))
            m = page.evaluate(MEASURE)
            assert m["page"][0] <= m["page"][1], (path, m["page"])
            yield path, m
    finally:
        context.close()


def test_admin_forms_fit_a_phone_screen_with_labels_above_their_fields(app, stack, db, factory, browser):
    """390×844 (QA): the value column ran past the screen inside a `.table-responsive` that
    scrolled sideways (inputs reaching x=1458), text boxes and help texts clipped. Now every label
    sits above its field, every field and help text within the screen, nothing scrolls sideways."""
    for path, m in _measured_forms(stack, factory, browser, 390, 844, screenshots="phone"):
        for scroll, client in m["tables"]:
            assert scroll <= client, (path, "the form table scrolls sideways", scroll, client)
        assert m["rows"], path
        for row in m["rows"]:
            assert row["fields"], (path, row["label"])
            for field in row["fields"]:
                assert field["x"] >= 0 and field["right"] <= 390, (path, row["label"], field)
                assert field["top"] >= row["labelBox"]["bottom"] - 1, (path, row["label"], "beside its label", field)
                if field["what"].startswith(("INPUT", "TEXTAREA")) and field["type"] not in ("checkbox", "color"):
                    assert field["w"] >= 250, (path, row["label"], "squeezed", field)


def test_admin_forms_keep_labels_beside_their_fields_on_a_wide_screen(app, stack, db, factory, browser):
    """1366×768: the same forms as before, the label on the left of its field."""
    for path, m in _measured_forms(stack, factory, browser, 1366, 768):
        for row in m["rows"]:
            for field in row["fields"]:
                assert field["x"] >= row["labelBox"]["right"], (path, row["label"], field)
                assert field["right"] <= 1366, (path, row["label"], field)



def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
