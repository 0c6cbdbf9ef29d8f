"""Portuguese first: every string of ours wrapped for translation has a pt_BR entry."""
from app.i18n import extracted_ids, missing_translations


def test_every_wrapped_string_has_a_pt_br_translation():
    assert extracted_ids(), "extraction found nothing: the check would be vacuous"
    assert missing_translations() == {}


def test_flask_appbuilder_screens_speak_portuguese(app):
    """Flask-AppBuilder's own login page and confirmation dialog: its pt_BR catalogue calls the
    login button "Registrar" (sign up) and its dialog has "Cancel" hard-coded in English."""
    import html
    import re

    from tests.conftest import ADMIN_EMAIL, login

    client = app.test_client()
    page = html.unescape(client.get("/login/").get_data(as_text=True))
    assert re.search(r'value="Entrar"', page) and "Registrar" not in page
    assert "Digite seu e-mail e sua senha:" in page
    assert login(client, ADMIN_EMAIL).status_code == 302
    page = client.get("/connections/list/").get_data(as_text=True)
    assert 'id="modal-confirm"' in page
    assert ">Cancelar</button>" in page and ">Cancel</button>" not in page
