"""SQLAlchemy 2.x declarative models; Alembic migrations mirror them."""

from redflask.models.base import Base
from redflask.models.stored_file import StoredFile
from redflask.models.user import ROLES, User

__all__ = ["ROLES", "Base", "StoredFile", "User"]
