"""Backends for the storage tests: contract tests run on memory, SQLite and DynamoDB (moto)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto import mock_aws
from moto.core.models import botocore_stubber

from drs_orchestration.aws import RetryPolicy
from drs_orchestration.storage import BaseStorage, DynamoDBStorage, MemoryStorage, SqliteStorage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BACKENDS = ["memory", "sqlite", "dynamodb"]
REGION = "us-east-1"


def no_sleep(_: float) -> None:
    """A sleep for retry policies in tests: never wait."""


Fault = Callable[[str, AWSPreparedRequest], "AWSResponse | None"]
"""Given the operation name and the HTTP request, an injected answer, or None to let moto answer."""


class MotoSeam:
    """The one ``before-send`` handler of a test client: injected faults first, else moto.

    botocore calls every ``before-send`` handler and uses the first answer, so
    a fault registered next to moto's own handler would still let moto
    process the request. This handler replaces moto's on the client and asks
    moto only when no fault answered.

    It also hands requests to moto one at a time: moto evaluates a condition
    and writes the item without a lock, so two threads could both pass one
    ``version`` check, which DynamoDB never allows. Everything above the seam
    (serialisation, parsing, the storage backend) still runs concurrently.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        client.meta.events.unregister("before-send", botocore_stubber)
        client.meta.events.register("before-send", self)

    def __call__(self, event_name: str, request: AWSPreparedRequest, **kwargs: Any) -> Any:
        operation = event_name.rsplit(".", 1)[-1]
        for fault in self.faults:
            answer = fault(operation, request)
            if answer is not None:
                return answer
        with self._lock:
            return botocore_stubber(event_name=event_name, request=request, **kwargs)


@pytest.fixture(scope="module")
def _moto() -> Iterator[None]:
    # One moto per test module: starting moto resets every simulated service,
    # which costs more than most tests. Tests stay apart by their table prefixes.
    with mock_aws():
        yield


_prefixes = itertools.count()


@pytest.fixture
def table_prefix() -> str:
    """A table prefix no other test in this process uses."""
    return f"t{next(_prefixes)}-"


@pytest.fixture
def moto_seam(_moto: None) -> MotoSeam:
    """The seam under this test's DynamoDB client, where tests inject faults."""
    return MotoSeam(boto3.client("dynamodb", region_name=REGION))


@pytest.fixture
def dynamodb_client(moto_seam: MotoSeam) -> DynamoDBClient:
    """A real boto3 DynamoDB client of this test's own, served by moto through its seam."""
    client: DynamoDBClient = moto_seam.client
    return client


@pytest.fixture
def dynamodb_storage(
    dynamodb_client: DynamoDBClient, table_prefix: str
) -> Iterator[DynamoDBStorage]:
    """A DynamoDBStorage on tables made by its own ``create_tables()``."""
    storage = DynamoDBStorage(
        table_prefix=table_prefix, client=dynamodb_client, retry=RetryPolicy(sleep=no_sleep)
    )
    storage.create_tables()
    yield storage
    storage.close()


@pytest.fixture
def make_storage(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], BaseStorage]]:
    """A factory of storages of the parametrised backend that share one store.

    Several storages over one store are what several processes or Lambdas
    see: separate connections (SQLite) or clients (DynamoDB) on the same data.
    """
    backend: str = request.param
    made: list[BaseStorage] = []
    if backend == "memory":
        shared = MemoryStorage()

        def make() -> BaseStorage:
            return shared

    elif backend == "sqlite":

        def make() -> BaseStorage:
            made.append(SqliteStorage(tmp_path / "state.db"))
            return made[-1]

    else:
        client: DynamoDBClient = request.getfixturevalue("dynamodb_client")
        prefix: str = request.getfixturevalue("table_prefix")
        DynamoDBStorage(table_prefix=prefix, client=client).create_tables()

        def make() -> BaseStorage:
            made.append(
                DynamoDBStorage(
                    table_prefix=prefix, client=client, retry=RetryPolicy(sleep=no_sleep)
                )
            )
            return made[-1]

    yield make
    for storage in made:
        storage.close()


@pytest.fixture
def storage(make_storage: Callable[[], BaseStorage]) -> BaseStorage:
    """One storage of the parametrised backend."""
    return make_storage()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Any test using `storage` or `make_storage` runs once per backend.
    if "make_storage" in metafunc.fixturenames:
        metafunc.parametrize("make_storage", BACKENDS, indirect=True)


def plant(
    storage: BaseStorage,
    collection: str,
    key: str,
    text: str,
    *,
    version: int | None = 1,
    index_value: str | None = None,
) -> None:
    """Store ``text`` under ``key`` below the repositories, as a damaged or foreign writer would.

    Memory and SQLite keep the text as it is. DynamoDB items are native
    attributes, so the text goes where a document can be arbitrary bytes: the
    gzip-compressed attribute of a large document.
    """
    import gzip
    import sqlite3

    from drs_orchestration.storage.backend import COLLECTIONS
    from drs_orchestration.storage.dynamodb import COMPRESSED_ATTRIBUTE

    spec = next(s for s in COLLECTIONS if s.name == collection)
    if isinstance(storage, SqliteStorage):
        with sqlite3.connect(storage.path) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?)",
                (collection, key, version, index_value, text),
            )
    elif isinstance(storage, DynamoDBStorage):
        item: dict[str, Any] = {
            spec.key: {"S": key},
            COMPRESSED_ATTRIBUTE: {"B": gzip.compress(text.encode())},
        }
        if version is not None:
            item["version"] = {"N": str(version)}
        if index_value is not None and spec.index is not None:
            item[spec.index] = {"S": index_value}
        storage.client.put_item(TableName=storage.table_name(spec), Item=item)
    else:
        data = storage.backend._data  # type: ignore[attr-defined]
        data[collection][key] = (version, index_value, text)
