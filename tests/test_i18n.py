"""Portuguese first: every string of ours wrapped for translation has a pt_BR entry."""
from app.i18n import extracted_ids, missing_translations


def test_every_wrapped_string_has_a_pt_br_translation():
    assert extracted_ids(), "extraction found nothing: the check would be vacuous"
    assert missing_translations() == {}
