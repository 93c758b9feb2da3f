"""Who may do what: pure checks of a role against what it owns (no requests, no storage)."""

from __future__ import annotations

import hashlib

_ALL = ["CAN_VIEW", "CAN_UPDATE", "CAN_DELETE", "CAN_SHARE", "CAN_PUBLISH_NEW_IMAGE"]
_OWNER = ["CAN_VIEW", "CAN_UPDATE", "CAN_DELETE", "CAN_PUBLISH_NEW_IMAGE"]
_READER = ["CAN_VIEW"]
_PEOPLE = {
    "admin": ("Ada", "Admin"),
    "user": ("Uma", "User"),
    "viewer": ("Vic", "Viewer"),
}


def owns(role: str, owner_user_id: str | None) -> bool:
    """Whether the user behind ``role`` is the owner (``userId``) of a record."""
    return owner_user_id is not None and user_of(role)["userId"] == owner_user_id


def can_write(role: str, owner_user_id: str | None) -> bool:
    """Admins change everything; a ``user`` only what they own; viewers nothing."""
    return role == "admin" or (role == "user" and owns(role, owner_user_id))


def can_read_output(role: str, owner_user_id: str | None) -> bool:
    """Logs, build log and history: the owner and admins only."""
    return role == "admin" or owns(role, owner_user_id)


def permissions(role: str, owner_user_id: str | None) -> list[str]:
    """The ``permissions`` list the API shows ``role`` for a record."""
    if role == "admin":
        return list(_ALL)
    return list(_OWNER if can_write(role, owner_user_id) else _READER)


def user_of(role: str) -> dict[str, str]:
    """The sandbox user behind a role: stable id, username, names and Gravatar-style hash."""
    first, last = _PEOPLE.get(role, (role.title(), "User"))
    username = f"{role}@sandbox.local"
    return {
        "userId": hashlib.sha1(role.encode()).hexdigest()[:24],
        "createdBy": username,
        "creatorFirstName": first,
        "creatorLastName": last,
        "creatorUserhash": hashlib.md5(username.encode()).hexdigest(),
    }
