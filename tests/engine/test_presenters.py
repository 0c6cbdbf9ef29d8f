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
