"""The ViewStore contract: every adapter must pass every test here."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from orderloom.views.memory import MemoryViewStore
from orderloom.views.port import ViewStore
from orderloom.views.sqlite import SQLiteViewStore
from tests.conftest import PG_URL


class Boom(Exception):
    """Raised inside a transaction to abandon it."""


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def views(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ViewStore]:
    if request.param == "memory":
        s: ViewStore = MemoryViewStore()
    elif request.param == "sqlite":
        s = SQLiteViewStore(str(tmp_path / "views.db"))
    else:
        schema = request.getfixturevalue("pg_schema")
        from orderloom.views.postgres import PostgresViewStore

        s = PostgresViewStore(PG_URL, schema=schema)
    yield s
    s.close()


DOC = {"status": "in_transit", "n": 3, "ratio": 0.25, "tags": ["a", "b"], "nested": {"ok": True, "none": None}}


def test_documents_written_in_a_transaction_read_back_equal(views: ViewStore) -> None:
    with views.transaction() as tx:
        tx.put_many("orders", {"A1": DOC, "A2": {"n": 1}})
        assert tx.get("orders", "A1") == DOC
    assert views.read("orders", "A1") == DOC
    assert views.read("orders", "A2") == {"n": 1}
    assert views.read("orders", "A3") is None
    assert views.read("other", "A1") is None
    with views.transaction() as tx:
        assert tx.get_many("orders", ["A1", "A3", "A2", "A1"]) == {"A1": DOC, "A2": {"n": 1}}
        assert tx.get_many("orders", []) == {}


def test_put_replaces_a_document_whole(views: ViewStore) -> None:
    with views.transaction() as tx:
        tx.put_many("orders", {"A1": DOC})
    with views.transaction() as tx:
        tx.put_many("orders", {"A1": {"n": 4}})
    assert views.read("orders", "A1") == {"n": 4}


def test_a_transaction_sees_its_own_writes_and_others_see_them_only_after_commit(views: ViewStore) -> None:
    with views.transaction() as tx:
        tx.put_many("orders", {"A1": {"n": 1}})
        tx.set_checkpoint("orders", 7)
        assert tx.get("orders", "A1") == {"n": 1}
        assert tx.checkpoint("orders") == 7
    assert views.checkpoint("orders") == 7


def test_a_transaction_that_raises_changes_neither_documents_nor_checkpoint(views: ViewStore) -> None:
    with views.transaction() as tx:
        tx.put_many("orders", {"A1": {"n": 1}})
        tx.set_checkpoint("orders", 5)
    with pytest.raises(Boom), views.transaction() as tx:
        tx.put_many("orders", {"A1": {"n": 2}, "A2": {"n": 2}})
        tx.set_checkpoint("orders", 9)
        raise Boom
    with pytest.raises(Boom), views.transaction() as tx:
        tx.clear("orders")
        raise Boom
    assert views.read("orders", "A1") == {"n": 1}
    assert views.read("orders", "A2") is None
    assert views.checkpoint("orders") == 5


def test_checkpoints_start_at_zero_and_commit_with_the_documents(views: ViewStore) -> None:
    assert views.checkpoint("orders") == 0
    with views.transaction() as tx:
        assert tx.checkpoint("orders") == 0
        tx.put_many("orders", {"A1": {"n": 1}})
        tx.set_checkpoint("orders", 1)
    with views.transaction() as tx:
        tx.put_many("orders", {"A1": {"n": 2}})
        tx.set_checkpoint("orders", 2)
    assert (views.read("orders", "A1"), views.checkpoint("orders")) == ({"n": 2}, 2)
    assert views.checkpoint("relay") == 0


def test_clear_drops_the_view_and_its_checkpoint_only(views: ViewStore) -> None:
    with views.transaction() as tx:
        tx.put_many("orders", {"A1": {"n": 1}, "A2": {"n": 2}})
        tx.put_many("chains", {"A1": {"n": 1}})
        tx.set_checkpoint("orders", 3)
        tx.set_checkpoint("chains", 4)
    with views.transaction() as tx:
        tx.clear("orders")
        assert tx.get("orders", "A1") is None
        assert tx.checkpoint("orders") == 0
        tx.put_many("orders", {"A3": {"n": 3}})
        tx.set_checkpoint("orders", 1)
    assert views.scan("orders") == [("A3", {"n": 3})]
    assert views.checkpoint("orders") == 1
    assert views.read("chains", "A1") == {"n": 1}
    assert views.checkpoint("chains") == 4


def test_scan_pages_through_a_view_in_key_order(views: ViewStore) -> None:
    keys = [f"OL-{i:03d}" for i in range(25)] + ["OL-a", "OL-B", "OL-é"]
    with views.transaction() as tx:
        tx.put_many("orders", {k: {"k": k} for k in reversed(keys)})
        tx.put_many("other", {"OL-000": {"k": "x"}})
    seen: list[str] = []
    after: str | None = None
    while page := views.scan("orders", limit=10, after_key=after):
        assert all(doc == {"k": k} for k, doc in page)
        seen.extend(k for k, _ in page)
        after = page[-1][0]
    assert seen == sorted(keys)
    assert views.scan("orders", limit=2, after_key="OL-023") == [("OL-024", {"k": "OL-024"}), ("OL-B", {"k": "OL-B"})]
    assert views.scan("empty") == []


def test_many_documents_in_one_transaction(views: ViewStore) -> None:
    docs = {f"K{i:05d}": {"i": i} for i in range(3000)}
    with views.transaction() as tx:
        tx.put_many("big", docs)
    with views.transaction() as tx:
        got = tx.get_many("big", list(docs))
    assert got == docs


def test_documents_written_as_json_read_back_like_put_many_ones(views: ViewStore) -> None:
    with views.transaction() as tx:
        tx.put_many("orders", {"A1": {"n": 1}})
        tx.put_json("orders", {"A1": orjson.dumps(DOC), "A2": '{"city":"南京市","q":"\\"x\\""}'.encode()})
        tx.put_json("orders", {})
        assert tx.get_many("orders", ["A1", "A2"]) == {"A1": DOC, "A2": {"city": "南京市", "q": '"x"'}}
    assert views.read("orders", "A1") == DOC
    assert views.scan("orders") == [("A1", DOC), ("A2", {"city": "南京市", "q": '"x"'})]
    if isinstance(views, SQLiteViewStore):  # stored as text, so SQLite's JSON functions read it
        conn = sqlite3.connect(views._path)
        row = conn.execute("SELECT typeof(doc), json_extract(doc, '$.city') FROM view_docs WHERE key = 'A2'")
        assert row.fetchone() == ("text", "南京市")
        conn.close()
    with pytest.raises(Boom), views.transaction() as tx:
        tx.put_json("orders", {"A3": b'{"n":3}'})
        raise Boom
    assert views.read("orders", "A3") is None


def test_a_document_read_is_a_copy(views: ViewStore) -> None:
    doc = {"list": [1]}
    with views.transaction() as tx:
        tx.put_many("orders", {"A1": doc})
    doc["list"].append(2)
    read = views.read("orders", "A1")
    assert read == {"list": [1]}
    read["list"].append(3)
    assert views.read("orders", "A1") == {"list": [1]}


def test_a_checkpoint_read_in_a_transaction_is_held_until_it_commits(views: ViewStore) -> None:
    # Two runners of one consumer must take turns: the second sees the first's checkpoint, not the old one.
    with views.transaction() as tx:
        tx.set_checkpoint("status", 1)
    first_has_read = threading.Event()
    seen: list[int] = []

    def second() -> None:
        first_has_read.wait(5)
        with views.transaction() as tx:
            seen.append(tx.checkpoint("status"))
            tx.set_checkpoint("status", seen[-1] + 1)

    other = threading.Thread(target=second)
    other.start()
    with views.transaction() as tx:
        assert tx.checkpoint("status") == 1
        first_has_read.set()
        time.sleep(0.1)  # room for the second to read too early, if the adapter let it
        tx.set_checkpoint("status", 5)
    other.join(10)
    assert seen == [5]
    assert views.checkpoint("status") == 6
