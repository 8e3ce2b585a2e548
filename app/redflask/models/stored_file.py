"""Uploaded files kept in MySQL (APP_UPLOAD_BACKEND=database), shared by every app host,
each owned by one user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from redflask.models.base import Base, utcnow

# Binary collation: names compare case-sensitively, as they do on the filesystem backend.
NAME_COLLATION = "utf8mb4_bin"


class StoredFile(Base):
    __tablename__ = "stored_file"
    __table_args__ = (
        # Every owner has a namespace of their own: two users may both keep report.txt.
        UniqueConstraint("owner_id", "name"),
        {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Deleting a user deletes their files.
    owner_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("sys_user.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(200, collation=NAME_COLLATION), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Deferred: listing files must not read every blob.
    content: Mapped[bytes] = mapped_column(
        LargeBinary().with_variant(mysql.LONGBLOB(), "mysql"), nullable=False, deferred=True
    )
    modified_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
