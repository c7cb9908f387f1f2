"""Bank data layer: one shared asyncpg pool, typed queries, migrations, demo data."""

from .database import LOCKOUT, MAX_PIN_FAILURES, Database
from .embedded import EmbeddedPostgres, database_url
from .errors import DatabaseError, DatabaseUnavailable, NotFound
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
    "NotFound",
    "Transaction",
    "VerificationResult",
    "VerificationStatus",
    "database_url",
    "load_demo_customers",
    "migrate",
    "seed_demo",
    "seed_synthetic",
]
