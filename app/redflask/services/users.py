"""sys_user management: CRUD, password changes, and the last-admin guarantee."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from redflask.models import User
from redflask.services import auth, files, rate_limit, tokens, usernames
from redflask.services.passwords_policy import check_new_password
from redflask.utils.db import db
from redflask.utils.errors import ApiError, Conflict, Forbidden, NotFound, Unauthorized
from redflask.utils.passwords import hash_password, verify_password


class InvalidUsername(ApiError):
    status, code = 422, "invalid_username"


@dataclass(frozen=True)
class Page:
    items: list[User]
    total: int


def list_users(page: int, per_page: int) -> Page:
    session = db.session
    total = session.scalar(select(func.count()).select_from(User)) or 0
    items = session.scalars(
        select(User).order_by(User.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(items=list(items), total=total)


def get_user(user_id: int, session: Session | None = None, lock: bool = False) -> User:
    session = session or db.session
    user = session.get(User, user_id, with_for_update=lock)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def normalized_username(username: str) -> str:
    try:
        return usernames.validate(username)
    except usernames.InvalidUsername as exc:
        raise InvalidUsername(str(exc)) from None


def create_user(username: str, password: str, nickname: str = "", role: str = "user") -> User:
    # The schema has normalised it already; services called directly get the same rule.
    username = normalized_username(username)
    check_new_password(password, username)
    session = db.session
    # Hand the connection back while hashing: the hash may wait for a CPU slot.
    session.commit()
    password_hash = hash_password(password)
    user = User(
        username=username,
        nickname=nickname,
        role=role,
        banned=False,
        password_hash=password_hash,
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"username {username!r} is taken", code="username_taken") from None
    return user


def _lock_active_admins(session: Session) -> set[int]:
    """Lock the active admins' rows (SELECT ... FOR UPDATE) and return their ids.

    Every change that can remove an admin takes this lock first, always in the same
    (primary key) order, so two concurrent demotions serialise instead of both seeing
    the other admin, and cannot deadlock on each other's target row.
    """
    return set(
        session.scalars(
            select(User.id)
            .where(User.role == "admin", User.banned.is_(False))
            .order_by(User.id)
            .with_for_update()
        ).all()
    )


def _refuse_last_admin(admins: set[int], target: User) -> None:
    if admins == {target.id}:
        raise Conflict("the last active admin cannot be removed", code="last_admin")


def update_user(
    user_id: int,
    nickname: str | None = None,
    role: str | None = None,
    banned: bool | None = None,
) -> User:
    session = db.session
    removes_admin = (role is not None and role != "admin") or banned is True
    admins = _lock_active_admins(session) if removes_admin else set()
    user = get_user(user_id, lock=True)
    if removes_admin:
        _refuse_last_admin(admins, user)
    if nickname is not None:
        user.nickname = nickname
    if role is not None:
        user.role = role
    if banned is not None:
        user.banned = banned
    session.commit()
    if banned:
        tokens.revoke_all(user.id)
    return user


def delete_user(user_id: int) -> None:
    session = db.session
    admins = _lock_active_admins(session)
    user = get_user(user_id, lock=True)
    _refuse_last_admin(admins, user)
    session.delete(user)  # the database deletes their stored_file rows with them
    session.commit()
    tokens.revoke_all(user_id)
    files.delete_owner_files(user_id)


def change_password(
    actor: User,
    user_id: int,
    new_password: str,
    current_password: str | None,
    actor_token: str,
    client: str,
) -> None:
    """Users change their own password (proving the current one); admins change anyone's.

    Proving the current password is a password guess like a login: it is counted and
    slowed down per account and client address the same way, in the same counters.
    """
    session = db.session
    own = actor.id == user_id
    if not own and not actor.is_admin:
        raise Forbidden("only admins can change another user's password")
    user = get_user(user_id)
    if own:
        account = usernames.throttle_name(user.username)
        auth.guard_attempt(account, client)
        stored_hash = user.password_hash
        session.commit()  # no connection held while hashing
        if not verify_password(stored_hash, current_password or ""):
            auth.log_failure(account, client, user.id, "wrong_current_password")
            raise Unauthorized("current password is wrong", code="wrong_password")
        rate_limit.succeeded(account, client)
    check_new_password(new_password, user.username)
    session.commit()
    new_hash = hash_password(new_password)
    user = get_user(user_id, lock=True)
    user.password_hash = new_hash
    session.commit()
    # Other sessions end; the caller keeps the token they used for this change.
    tokens.revoke_all(user.id, keep=actor_token if own else None)


def ensure_admin(username: str, password: str) -> tuple[User, bool]:
    """Create an admin unless the username exists; never modifies an existing user."""
    username = normalized_username(username)
    existing = db.session.scalar(select(User).where(User.username == username))
    if existing is not None:
        return existing, False
    return create_user(username, password, nickname=username, role="admin"), True
