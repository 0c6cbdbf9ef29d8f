"""What the API and the Socket.IO events say about a message: never the server's file path."""
import json

from app.models import Message
from app.services.presenters import message_json


def test_media_is_described_without_the_server_path(app):
    message = Message(id=7, ticket_id=3, from_me=False, type="image", body="foto", status="received",
                      media_path="12/3EB0ABC.jpg", media_mime="image/jpeg", media_name="foto.jpg")
    data = message_json(message)
    assert data["media"] == {"mime": "image/jpeg", "name": "foto.jpg"}
    assert "12/3EB0ABC" not in json.dumps(data)


def test_a_message_says_when_its_author_sent_it(app):
    """A customer's message stored late (the system was down when WhatsApp delivered it) is shown
    at the time WhatsApp gives it, never later than it was stored (a phone's clock may be ahead)."""
    import datetime as dt

    stored = dt.datetime(2026, 11, 24, 13, 0)
    late = Message(id=8, ticket_id=3, from_me=False, type="text", body="oi", status="received", created_at=stored,
                   channel_timestamp=stored - dt.timedelta(hours=3))
    assert message_json(late)["sent_at"] == "2026-11-24T10:00:00Z"
    assert message_json(late)["created_at"] == "2026-11-24T13:00:00Z"
    ahead = Message(id=9, ticket_id=3, from_me=False, type="text", body="oi", status="received", created_at=stored,
                    channel_timestamp=stored + dt.timedelta(minutes=5))
    assert message_json(ahead)["sent_at"] == "2026-11-24T13:00:00Z"
    ours = Message(id=10, ticket_id=3, from_me=True, type="text", body="olá", status="queued", created_at=stored)
    assert message_json(ours)["sent_at"] == "2026-11-24T13:00:00Z"
