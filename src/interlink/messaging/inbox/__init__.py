"""The transactional inbox: a message's effects, its id and its events in one transaction.

::

    db = Database("sqlite:///billing.db")          # or "postgresql://user@host/billing"
    async with db:
        async with db.transaction() as tx:
            if await tx.claim("billing", envelope.id):     # False: already processed
                await tx.connection.execute("INSERT INTO invoices ...")
                await tx.add_event(invoice_created, topic="invoices.created")
"""

from interlink.messaging.inbox._base import Database, Transaction
from interlink.messaging.inbox._postgres import PostgresDatabase
from interlink.messaging.inbox._sqlite import SqliteDatabase
from interlink.messaging.inbox._urls import database_from_url

__all__ = [
    "Database",
    "PostgresDatabase",
    "SqliteDatabase",
    "Transaction",
    "database_from_url",
]
