"""The three profiles as Flask-AppBuilder built-in roles (code, not rows).

Each entry is [view regex, permission regex]; FAB matches them as prefixes, so every pattern is
anchored. View names are the view classes' names; menu entries need `menu_access` on their name.
Object-level rules (which tickets, which members) live in app.services, not here.
"""

# What every logged-in member may use.
_EVERYONE = [
    ["^TicketApi$", "^(can_get|can_post|can_put|can_info|can_accept|can_transfer|can_close|can_reopen|can_return|can_messages|can_media|can_read)$"],
    ["^ChatView$", "^can_"],
    ["^Chat$", "^menu_access$"],
    ["^QueueApi$", "^can_get$"],
    ["^RatingApi$", "^can_get$"],
    ["^QuickReplyApi$", "^can_get$"],
    ["^TeamApi$", "^can_me$"],
    ["^TeamView$", "^can_userinfo$"],
    ["^UserInfoEditView$", "^can_this_form_(get|post)$"],
    ["^ResetMyPasswordView$", "^can_this_form_(get|post)$"],
]

ROLES = {
    "Admin": [[".*", ".*"]],
    "Supervisor": _EVERYONE
    + [
        ["^ConnectionView$", "^(can_list|can_show|can_start|can_qr|can_statuses)$"],
        ["^ConnectionApi$", "^(can_get|can_info|can_start|can_qr)$"],
        ["^Connections$", "^menu_access$"],
        ["^QueueView$", "^(can_list|can_show)$"],
        ["^QueueApi$", "^can_info$"],
        ["^Queues$", "^menu_access$"],
        # Supervisors edit only the queues and password of User-profile members: the rule is in
        # app.services.team, these permissions only open the screens.
        ["^TeamView$", "^(can_list|can_show|can_edit)$"],
        ["^TeamApi$", "^(can_get|can_info|can_put)$"],
        ["^Team$", "^menu_access$"],
        ["^ReceivedRatingView$", "^(can_list|can_show)$"],
        ["^(Received ratings|Ratings menu)$", "^menu_access$"],
    ],
    "User": _EVERYONE,
}
