"""``SagaStore.counts``: how many sagas by name and status, on SQLite and PostgreSQL."""

from __future__ import annotations

from interlink.saga._store import SagaRow, store_for


def row(n: int, name: str, status: str) -> SagaRow:
    return SagaRow(
        id=f"s{n}",
        name=name,
        key=f"k{n}",
        status=status,
        version=1,
        owner=None,
        lease_until=0.0,
        state=b"{}",
        created_at=float(n),
        updated_at=float(n),
    )


async def test_counts_are_by_name_and_status(db, prefix):
    store = store_for(db, table=f"{prefix}_sagas")
    await store.setup()
    assert await store.counts() == {}
    rows = [("checkout", "COMPLETED")] * 3 + [("checkout", "FAILED"), ("refund", "RUNNING")]
    for n, (name, status) in enumerate(rows):
        await store.insert(row(n, name, status))
    assert await store.counts() == {
        ("checkout", "COMPLETED"): 3,
        ("checkout", "FAILED"): 1,
        ("refund", "RUNNING"): 1,
    }
