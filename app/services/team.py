"""Equipe: team members (Flask-AppBuilder users) and who may change whom.

The profile is the member's FAB role (the role is the truth; `Member.profile` reads it). The
e-mail is the login (username = e-mail, stored in lower case). Rules:
- Admins (and scripts, `actor=None`) may do everything, except leave the team without an Admin:
  the last Admin cannot be demoted or deleted; nobody deletes their own account.
- Supervisors may change only the queues and the password of User-profile members; they may not
  create or delete members nor change any Supervisor/Admin account (403: they see those members).
- Users manage nobody here (their own name and password go through FAB's own "Perfil" forms).
"""
import re

import email_validator
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_appbuilder.security.sqla.models import Role
from flask_babel import gettext as _, lazy_gettext
from sqlalchemy import func, update as sql_update
from werkzeug.security import generate_password_hash

from app.models import Connection, Member, PROFILES, Queue, db
from app.services import DomainError, Forbidden
from app.services import inputs

FIELDS = ("name", "email", "password", "phone", "profile", "queues", "default_connection")
SUPERVISOR_FIELDS = ("queues", "password")
LABELS = {
    "name": lazy_gettext("Name"),
    "email": lazy_gettext("E-mail"),
    "password": lazy_gettext("Password"),
    "phone": lazy_gettext("Phone"),
    "profile": lazy_gettext("Profile"),
    "queues": lazy_gettext("Queues"),
    "default_connection": lazy_gettext("Default connection"),
}
# A member's e-mail is the login name, not an address we write to: intranet domains (".local", as
# in "admin@conecta.local", the first Admin's default e-mail of DESIGN §7) and test domains are
# accepted. email_validator refuses them as special-use names unless they are taken off its list
# (its documented way); the others there (".onion", ".invalid", ".arpa") stay refused.
for _login_domain in ("local", "test"):
    if _login_domain in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        email_validator.SPECIAL_USE_DOMAIN_NAMES.remove(_login_domain)

PROFILE_LABELS = {"user": lazy_gettext("User"), "supervisor": lazy_gettext("Supervisor"),
                  "admin": lazy_gettext("Admin")}
_PHONE = re.compile(r"55\d{10,11}")
MIN_PASSWORD = 8
MAX_PASSWORD = 128


def get(member_id) -> Member:
    return inputs.fetch_one(Member, member_id, lazy_gettext("Member not found."))


def role_for(profile: str) -> Role:
    role = db.session.query(Role).filter(Role.name == PROFILES[profile]).first()
    if role is None:  # bootstrap creates the three roles at start
        raise RuntimeError(f"role {PROFILES[profile]} missing")
    return role


def admin_count() -> int:
    return (db.session.query(func.count(Member.id)).join(Member.roles)
            .filter(Role.name == PROFILES["admin"]).scalar())


def check_password(password) -> str:
    """The password policy, for Equipe and for FAB's own "change my password" form alike."""
    if password is None or password == "":
        raise inputs.invalid(_("%(field)s is required.", field=LABELS["password"]))
    if not isinstance(password, str) or "\x00" in password:
        raise inputs.invalid(_("%(field)s contains invalid characters.", field=LABELS["password"]))
    if not password.strip():  # the login form would take it for an empty one
        raise inputs.invalid(_("The password cannot be only spaces."))
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise inputs.invalid(_("The password must have between %(min)d and %(max)d characters.",
                               min=MIN_PASSWORD, max=MAX_PASSWORD))
    return password


def hash_password(password: str) -> str:
    # The same hashing as Flask-AppBuilder's add_user / reset_password, so FAB's login checks it.
    return generate_password_hash(
        password=password,
        method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
        salt_length=current_app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16),
    )


def _clean(data: dict, current: Member | None) -> dict:
    """The checked input; every field's refusal at once (inputs.Refusals), the queues rule included."""
    data = inputs.require_object(data)
    inputs.reject_unknown(data, FIELDS)
    clean = {}
    refused = inputs.Refusals()
    if current is None or "name" in data:
        with refused.about("name"):
            clean["name"] = inputs.text(data.get("name"), LABELS["name"], required=True, max_len=64,
                                        single_line=True)
    if current is None or "email" in data:
        with refused.about("email"):
            clean["email"] = _clean_email(data.get("email"), current)
    if current is None or data.get("password") not in (None, ""):
        with refused.about("password"):
            clean["password"] = check_password(data.get("password"))
    if "phone" in data:
        with refused.about("phone"):
            phone = inputs.text(data["phone"], LABELS["phone"], max_len=20, single_line=True)
            if phone is not None and not _PHONE.fullmatch(phone):
                raise inputs.invalid(_("The phone must have only digits: 55 + area code + number, 12 or 13 "
                                       "digits (e.g. 5511987654321)."))
            # The telephone plan's rule, the Nova conversa's (no area code 00, a mobile number with
            # its 9); a number saved before this check and sent back unchanged is kept.
            if phone is not None and phone != getattr(current, "phone", None) and inputs.phone_number(phone) != phone:
                raise inputs.invalid(_("%(field)s: %(phone)s is not a Brazilian number that exists: check the "
                                       "area code (DDD) and the number.", field=LABELS["phone"], phone=phone))
            clean["phone"] = phone
    if current is None or "profile" in data:
        with refused.about("profile"):
            profile = data.get("profile", "user" if current is None else None)
            if not isinstance(profile, str) or profile not in PROFILES:
                raise inputs.invalid(_("The profile must be user, supervisor or admin."))
            clean["profile"] = profile
    if "queues" in data:
        with refused.about("queues"):
            clean["queues"] = inputs.fetch_all(Queue, inputs.id_list(data["queues"], LABELS["queues"]),
                                               LABELS["queues"])
    if "default_connection" in data:
        value = data["default_connection"]
        if value in (None, ""):
            clean["default_connection"] = None
        else:
            with refused.about("default_connection"):
                clean["default_connection"] = inputs.fetch_all(
                    Connection, [inputs.ident(value, LABELS["default_connection"])], LABELS["default_connection"])[0]
    if not refused.failed("profile", "queues"):
        with refused.about("queues"):
            _check_queues(current, clean)
    refused.check()
    return clean


def _clean_email(value, current: Member | None) -> str:
    raw = inputs.text(value, LABELS["email"], required=True, max_len=254, single_line=True)
    try:
        email = validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise inputs.invalid(_("\"%(value)s\" is not a valid e-mail address.", value=raw[:100])) from None
    clash = db.session.query(Member.id).filter(
        (func.lower(Member.email) == email) | (func.lower(Member.username) == email))
    if current is not None:
        clash = clash.filter(Member.id != current.id)
    if clash.first():
        raise inputs.invalid(_("The e-mail %(email)s is already used by another member.", email=email))
    return email


def _changed(member: Member, clean: dict) -> set:
    """The fields whose clean value differs from the member's (a client may send back what it read)."""
    current = {
        "name": member.name, "email": (member.email or "").lower(), "phone": member.phone,
        "profile": member.profile, "queues": list(member.queues),
        "default_connection": member.default_connection,
    }
    changed = set()
    for key, value in clean.items():
        if key == "password" or key not in current:
            changed.add(key)
        elif key == "queues":
            if sorted(q.id for q in value) != sorted(q.id for q in current["queues"]):
                changed.add(key)
        elif value != current[key]:
            changed.add(key)
    return changed


def check_may_change(actor: Member | None, member: Member) -> None:
    """Whether `actor` may change `member` at all (Forbidden otherwise): Admins (and scripts) any
    member, Supervisors a User-profile member other than themselves (which fields: update)."""
    if actor is None or actor.profile == "admin":
        return
    if actor.profile == "supervisor":
        if member.profile == "user" and member.id != actor.id:
            return
        raise Forbidden(_("Supervisors may change only members of the User profile."))
    raise Forbidden(_("You may not change team members."))


def check_may_delete(actor: Member | None, member: Member) -> None:
    """Whether `actor` may remove `member` (Forbidden, or 422 for the rules of the team itself)."""
    if actor is not None and actor.profile != "admin":
        raise Forbidden(_("Only Admins may remove team members."))
    if actor is not None and actor.id == member.id:
        raise inputs.invalid(_("You cannot remove your own account."))
    if member.profile == "admin" and admin_count() <= 1:
        raise inputs.invalid(_("This is the last Admin: make another member an Admin first."))


def allowed_actions(actor: Member | None, member: Member) -> set[str]:
    """What `actor` may do to `member` ("edit", "delete"), so that the Equipe screen offers only
    those on the member's row. The same checks as update and delete, which refuse anything else."""
    allowed = set()
    for action, check in (("edit", check_may_change), ("delete", check_may_delete)):
        try:
            check(actor, member)
        except DomainError:
            continue
        allowed.add(action)
    return allowed


def _check_actor_may_edit(actor: Member | None, member: Member, changed: set) -> None:
    check_may_change(actor, member)
    if actor is not None and actor.profile == "supervisor" and changed - set(SUPERVISOR_FIELDS):
        raise Forbidden(_("Supervisors may change only the queues and the password of a member."))


def _apply(member: Member, clean: dict) -> None:
    if "name" in clean:
        member.first_name, member.last_name = clean["name"], ""
    if "email" in clean:
        member.email = member.username = clean["email"]
    if "password" in clean:
        member.password = hash_password(clean["password"])
    if "phone" in clean:
        member.phone = clean["phone"]
    if "profile" in clean:
        member.roles = [role_for(clean["profile"])]
    if "queues" in clean:
        member.queues = clean["queues"]
    if "default_connection" in clean:
        member.default_connection = clean["default_connection"]


def _check_queues(member: Member | None, clean: dict) -> None:
    profile = clean.get("profile", member.profile if member is not None else "user")
    queues = clean.get("queues", member.queues if member is not None else [])
    if profile == "user" and not queues:
        raise inputs.invalid(_("A member of the User profile needs at least one queue."), field="queues")


def _commit():
    inputs.commit_or_conflict(_("The member could not be saved because it was changed at the same time. Try again."))


def create(data: dict, actor: Member | None = None) -> Member:
    if actor is not None and actor.profile != "admin":
        raise Forbidden(_("Only Admins may add team members."))
    clean = _clean(data, None)
    member = Member(active=True)
    _apply(member, clean)
    db.session.add(member)
    _commit()
    return member


def update(member_id, data: dict, actor: Member | None = None) -> Member:
    member = get(member_id)
    if actor is not None and actor.profile not in ("admin", "supervisor"):
        raise Forbidden(_("You may not change team members."))
    clean = _clean(data, member)
    changed = _changed(member, clean)
    _check_actor_may_edit(actor, member, changed)
    clean = {k: v for k, v in clean.items() if k in changed}
    if member.profile == "admin" and clean.get("profile", "admin") != "admin" and admin_count() <= 1:
        raise inputs.invalid(_("This is the last Admin: make another member an Admin first."))
    _apply(member, clean)
    _commit()
    return member


def delete(member_id, actor: Member | None = None):
    """Removes the member; the tickets they were handling go back to Aguardando. Returns the
    Changes for the shell to publish."""
    from app.services import tickets
    from app.services.events import Changes

    member = get(member_id)
    check_may_delete(actor, member)
    # FAB's audit columns point at the member who created/changed other members.
    for column in ("created_by_fk", "changed_by_fk"):
        db.session.execute(sql_update(Member).where(getattr(Member, column) == member.id).values({column: None}))
    changes = Changes()
    tickets.release_agent_tickets(member, changes)
    db.session.delete(member)
    _commit()
    return changes


def set_signature(member: Member, on):
    """The member's own "Assinar" switch (the chat composer): their messages to customers from now
    on go out signed with their name (True) or not (False); messages already queued keep what was
    decided for them (app.services.outbound). Only ever the caller's own: the shell passes the
    logged-in member, there is no other member to name. Returns the Changes that tell the member's
    other open screens (room user:<id>); does not commit."""
    from app.services.events import Changes

    if not isinstance(on, bool):
        raise inputs.invalid(lazy_gettext("The signature switch must be on (true) or off (false)."))
    member.sign_messages = on
    changes = Changes()
    changes.notice("signature", {"on": on}, [f"user:{member.id}"])
    return changes


def as_dict(member: Member) -> dict:
    return {
        "id": member.id, "name": member.name, "email": member.email, "phone": member.phone,
        "profile": member.profile, "queues": [q.id for q in member.queues],
        "default_connection": member.default_connection_id, "active": bool(member.active),
    }
