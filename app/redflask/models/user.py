"""The seed's sys_user table, with a modern password hash and real timestamps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from redflask.models.base import Base, utcnow

ROLES = ("admin", "user")
# Usernames are stored normalised (NFKC, case-folded, trimmed: see services/usernames.py)
# and compared byte for byte, so the database finds exactly the account the login
# throttle counts for. (utf8mb4_bin pads with spaces when comparing, which the trimming
# makes moot.)
USERNAME_COLLATION = "utf8mb4_bin"


class User(Base):
    __tablename__ = "sys_user"
    __table_args__ = (
        # A backstop for writers that skip the normalisation (the previous release during a
        # rolling update, hand-written SQL): a mixed-case name is refused.
        CheckConstraint("username = LOWER(username)", name="username_normalised"),
        {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(
        String(50, collation=USERNAME_COLLATION), unique=True, nullable=False
    )
    nickname: Mapped[str] = mapped_column(String(50), nullable=False, default="")
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False, default="user")
    banned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, onupdate=utcnow
    )
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:  # never include the hash
        return f"<User id={self.id} username={self.username!r} role={self.role}>"
