"""owned files, normalised usernames

- sys_user.username: stored normalised (NFKC, case-folded, trimmed) with a binary
  collation (utf8mb4_bin) instead of the server's case- and accent-insensitive default,
  so a lookup finds exactly the account the login throttle counts; a CHECK refuses
  mixed-case names from writers that skip the normalisation.
- stored_file.owner_id (NOT NULL, foreign key to sys_user, ON DELETE CASCADE), names
  unique per owner instead of globally. Existing rows belong to the first admin (the
  admin with the lowest id).
- Files of the filesystem backend: APP_UPLOAD_DIR/<name> moves to
  APP_UPLOAD_DIR/<first admin's id>/<name>.

With files to adopt and no admin to own them, the upgrade stops before changing anything
(create one with `flask create-admin`, then upgrade again): no file becomes anybody's by
accident and none is deleted. A username that cannot be normalised without colliding
with another one stops it the same way.

Not additive (see app/README.md, "Migration 0003"): between this upgrade and a host's
switch, the previous release cannot store files in the database (owner_id has no default:
the INSERT fails), does not see the moved files of the filesystem backend, and cannot
create users with upper-case names (the CHECK refuses them). It still serves everything
else. Keeping it fully working would mean keeping the shared namespace this closes.

Downgrade: refuses while two owners have files of the same name (they cannot share one
namespace again); otherwise moves the files back and restores the old schema. Names stay
in lower case.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import logging
import os
import unicodedata
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from flask import current_app, has_app_context

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger("redflask.migrations")


def _normalise(name: str) -> str:
    # Frozen copy of redflask.services.usernames.normalize as of this revision.
    folded = unicodedata.normalize("NFKC", name).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def _upload_dir() -> Path | None:
    """The app's APP_UPLOAD_DIR when it has one (the CLI runs migrations in the app)."""
    if not has_app_context():  # pragma: no cover - the CLI always provides one
        return None
    settings = current_app.extensions.get("redflask.settings")
    directory = getattr(settings, "upload_dir", None)
    return directory if directory is not None and directory.is_dir() else None


def _plain_files(directory: Path) -> list[Path]:
    """The regular, visible files directly in directory (no links, no dot files)."""
    return sorted(
        entry
        for entry in directory.iterdir()
        if entry.is_file() and not entry.is_symlink() and not entry.name.startswith(".")
    )


def _legacy_files(root: Path | None) -> list[Path]:
    """Files of the previous layout: the plain files directly in the root."""
    return [] if root is None else _plain_files(root)


def _username_updates(connection: sa.Connection) -> list[tuple[int, str]]:
    rows = connection.execute(sa.text("SELECT id, username FROM sys_user ORDER BY id")).all()
    seen: dict[str, int] = {}
    updates: list[tuple[int, str]] = []
    for user_id, username in rows:
        name = _normalise(username)
        if not 1 <= len(name) <= 50:
            raise RuntimeError(
                f"sys_user {user_id}: its username cannot be stored normalised ({len(name)} "
                "characters); rename it, then run the upgrade again"
            )
        if name in seen:
            raise RuntimeError(
                f"sys_user {user_id} and {seen[name]}: their usernames are the same once "
                "normalised (case, width, spaces); rename one, then run the upgrade again"
            )
        seen[name] = user_id
        if name != username:
            updates.append((user_id, name))
    return updates


def upgrade() -> None:
    connection = op.get_bind()
    # Every check first: MariaDB commits each DDL statement, so a failure after the first
    # one would leave a half-migrated schema.
    admin_id = connection.scalar(sa.text("SELECT MIN(id) FROM sys_user WHERE role = 'admin'"))
    rows = connection.scalar(sa.text("SELECT COUNT(*) FROM stored_file"))
    root = _upload_dir()
    legacy = _legacy_files(root)
    if admin_id is None and (rows or legacy):
        raise RuntimeError(
            f"{rows} stored files and {len(legacy)} files in APP_UPLOAD_DIR need an owner and "
            "there is no admin to own them: create one (flask --app redflask create-admin "
            "--username NAME), then run the upgrade again"
        )
    updates = _username_updates(connection)
    for user_id, name in updates:
        connection.execute(
            sa.text("UPDATE sys_user SET username = :name WHERE id = :id"),
            {"name": name, "id": user_id},
        )
    unlowered = connection.scalars(
        sa.text(
            "SELECT id FROM sys_user"
            " WHERE CAST(username AS BINARY) <> CAST(LOWER(username) AS BINARY)"
        )
    ).all()
    if unlowered:
        raise RuntimeError(
            f"sys_user {', '.join(map(str, unlowered))}: the database's LOWER() changes "
            "the normalised username; rename them, then run the upgrade again"
        )

    op.alter_column(
        "sys_user",
        "username",
        existing_type=sa.String(length=50),
        type_=sa.String(length=50, collation="utf8mb4_bin"),
        existing_nullable=False,
    )
    op.create_check_constraint(
        op.f("ck_sys_user_username_normalised"), "sys_user", "username = LOWER(username)"
    )

    op.add_column("stored_file", sa.Column("owner_id", sa.Integer(), nullable=True))
    if rows:
        connection.execute(sa.text("UPDATE stored_file SET owner_id = :id"), {"id": admin_id})
    op.alter_column("stored_file", "owner_id", existing_type=sa.Integer(), nullable=False)
    op.drop_constraint("uq_stored_file_name", "stored_file", type_="unique")
    op.create_unique_constraint(
        op.f("uq_stored_file_owner_id"), "stored_file", ["owner_id", "name"]
    )
    op.create_foreign_key(
        op.f("fk_stored_file_owner_id_sys_user"),
        "stored_file",
        "sys_user",
        ["owner_id"],
        ["id"],
        ondelete="CASCADE",
    )

    if legacy and root is not None:
        target = root / str(admin_id)
        target.mkdir(exist_ok=True)
        for entry in legacy:
            destination = target / entry.name
            if destination.exists():
                log.warning("left %s in place: %s exists", entry, destination)
                continue
            os.replace(entry, destination)


def _owned_files(root: Path | None) -> list[Path]:
    """Files of this revision's layout: the plain files of each <owner id>/ directory."""
    if root is None:
        return []
    return sorted(
        entry
        for directory in root.iterdir()
        if directory.name.isdecimal() and directory.is_dir() and not directory.is_symlink()
        for entry in _plain_files(directory)
    )


def downgrade() -> None:
    connection = op.get_bind()
    shared = connection.scalars(
        sa.text("SELECT name FROM stored_file GROUP BY name HAVING COUNT(*) > 1 ORDER BY name")
    ).all()
    root = _upload_dir()
    owned = _owned_files(root)
    names = [entry.name for entry in owned]
    taken = sorted(
        {name for name in names if names.count(name) > 1}
        | {entry.name for entry in owned if root is not None and (root / entry.name).exists()}
    )
    if shared or taken:
        raise RuntimeError(
            "several owners have files called "
            f"{', '.join(sorted({*shared, *taken})[:10])}; without owners they would share "
            "one name: rename or delete all but one of each, then downgrade again"
        )

    op.drop_constraint(op.f("fk_stored_file_owner_id_sys_user"), "stored_file", type_="foreignkey")
    op.drop_constraint(op.f("uq_stored_file_owner_id"), "stored_file", type_="unique")
    op.create_unique_constraint(op.f("uq_stored_file_name"), "stored_file", ["name"])
    op.drop_column("stored_file", "owner_id")

    op.drop_constraint(op.f("ck_sys_user_username_normalised"), "sys_user", type_="check")
    op.alter_column(
        "sys_user",
        "username",
        existing_type=sa.String(length=50, collation="utf8mb4_bin"),
        type_=sa.String(length=50),
        existing_nullable=False,
    )

    if root is not None:
        for entry in owned:
            os.replace(entry, root / entry.name)
        for directory in {entry.parent for entry in owned}:
            try:
                directory.rmdir()
            except OSError:  # pragma: no cover - something else is still in it
                log.warning("left %s in place: not empty", directory)
