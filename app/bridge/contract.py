"""The contract between the bridge and WhatsApp Web: every `WPP` function and event we use.

Nothing else in the project may touch `WPP`: the listener script (js/listener.js) reaches it only
through the names below (they are handed to the page as `window.__conectaContract`), and the
simulator's fake `WPP` implements exactly this set. tests/bridge/test_contract.py loads the
installed wa-js in Chromium and checks that each function exists and each event is emitted
somewhere in it, so an upgrade of wa-js that renames one fails a test instead of production.
"""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
WA_JS_PATH = ROOT / "node_modules" / "@wppconnect" / "wa-js" / "dist" / "wppconnect-wa.js"
LISTENER_PATH = Path(__file__).resolve().parent / "js" / "listener.js"

# Our name → the path under window.WPP.
FUNCTIONS = {
    "on": "on",  # WPP.on(event, handler): the event emitter
    "get_qr": "conn.getAuthCode",  # the QR code's text (fullCode); rotates: event conn.auth_code_change
    "is_authenticated": "conn.isAuthenticated",
    "is_main_ready": "conn.isMainReady",
    "my_user_id": "conn.getMyUserId",  # the paired number's wid once ready
    "logout": "conn.logout",
    "send_text": "chat.sendTextMessage",
    "send_list": "chat.sendListMessage",
    "send_file": "chat.sendFileMessage",
    "mark_read": "chat.markIsRead",
    "download_media": "chat.downloadMedia",
    "get_message": "chat.getMessageById",  # recognise a send that happened before a crash
    # After a reconnect: the unread chats, and the chats active since the last session stored
    # everything (BridgeSession.unread_messages, .recent_messages)
    "list_chats": "chat.list",
    "get_messages": "chat.getMessages",
    "reject_call": "call.reject",
    "lid_to_phone": "contact.getPnLidEntry",  # @lid sender → phone number
    "query_exists": "contact.queryExists",
}

EVENTS = (
    "conn.auth_code_change",  # new QR (rotation), or null once scanned
    "conn.authenticated",
    "conn.main_ready",
    "conn.logout",
    "conn.stream_mode_changed",
    "chat.new_message",
    "chat.msg_ack_change",
    "call.incoming_call",
)

# WhatsApp's numeric acks → the names of the inbound contract (ack events of kind "ack").
ACKS = {-1: "failed", 1: "sent", 2: "delivered", 3: "read", 4: "read"}

# wa-js reads window.WPPConfig when it loads: no analytics, no third-party link previews.
WPP_CONFIG = {
    "disableGoogleAnalytics": True,
    "googleAnalyticsId": None,
    "linkPreviewApiServers": None,
    "sendStatusToDevice": False,
    "syncAllStatus": False,
    "poweredBy": None,
    "deviceName": "Conecta",
}


def config_script() -> str:
    """The init script that runs before wa-js and the listener."""
    contract = {"functions": FUNCTIONS, "events": list(EVENTS)}
    return (
        f"window.WPPConfig = Object.assign(window.WPPConfig || {{}}, {json.dumps(WPP_CONFIG)});\n"
        f"window.__conectaContract = {json.dumps(contract)};\n"
    )
