"""Bank data layer: one shared asyncpg pool, typed queries, migrations, demo data."""

from .database import BIGINT_MAX, LOCKOUT, MAX_PIN_FAILURES, Database, is_valid_id
from .embedded import APP_LOGIN, EmbeddedPostgres, database_url, login_as, owner_database_url
from .errors import DatabaseError, DatabaseUnavailable, InvalidArgument, NotFound
from .migrate import migrate
from .models import (
    Account,
    Card,
    CardActionResult,
    CardChange,
    Case,
    Customer,
    Transaction,
    VerificationResult,
    VerificationStatus,
)
from .seed import load_demo_customers, seed_demo, seed_synthetic

__all__ = [
    "APP_LOGIN",
    "BIGINT_MAX",
    "LOCKOUT",
    "MAX_PIN_FAILURES",
    "Account",
    "Card",
    "CardActionResult",
    "CardChange",
    "Case",
    "Customer",
    "Database",
    "DatabaseError",
    "DatabaseUnavailable",
    "EmbeddedPostgres",
    "InvalidArgument",
    "NotFound",
    "Transaction",
    "VerificationResult",
    "VerificationStatus",
    "database_url",
    "is_valid_id",
    "load_demo_customers",
    "login_as",
    "migrate",
    "owner_database_url",
    "seed_demo",
    "seed_synthetic",
]
