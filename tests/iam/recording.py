"""Record the IAM actions AWS calls authorise, from botocore's ``before-parameter-build`` event.

Every client the library gets (DRS answered by the simulator, EC2, DynamoDB
and STS by moto) is a real botocore client; a handler on its
``before-parameter-build`` event sees each API call with its parameters
before it is sent. The IAM action of an API call is
``<signing name>:<operation>``, except where IAM authorises by another name:
``TransactWriteItems`` is authorised per item (``PutItem``, ``DeleteItem``,
``UpdateItem``, ``ConditionCheckItem``) and ``TransactGetItems`` as ``GetItem``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient

from drs_orchestration.models import AccountContext
from drs_orchestration.testing import SimulatedClientFactory

_TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Delete": "DeleteItem",
    "Update": "UpdateItem",
    "ConditionCheck": "ConditionCheckItem",
}


class ActionLog:
    """The IAM actions authorised by the calls seen, by capability being exercised."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.capability = "setup"
        self.actions: dict[str, set[str]] = {}

    @contextmanager
    def exercising(self, capability: str) -> Iterator[None]:
        previous, self.capability = self.capability, capability
        try:
            yield
        finally:
            self.capability = previous

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service = model.service_model.signing_name
        names = [model.name]
        if service == "dynamodb" and model.name == "TransactWriteItems":
            names = [
                _TRANSACT_ITEM_ACTIONS[kind]
                for item in params.get("TransactItems", [])
                for kind in item
            ]
        elif service == "dynamodb" and model.name == "TransactGetItems":
            names = ["GetItem"]
        with self._lock:
            found = self.actions.setdefault(self.capability, set())
            found.update(f"{service}:{name}" for name in names)

    def watch(self, client: BaseClient) -> BaseClient:
        client.meta.events.register("before-parameter-build", self.record)
        return client


class RecordingClientFactory(SimulatedClientFactory):
    """The simulator's client factory, recording what its clients call."""

    def __init__(self, log: ActionLog, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = log
        self._watched: set[int] = set()

    def client(self, service: str, region: str, account: AccountContext | None = None) -> Any:  # type: ignore[override]
        created = super().client(service, region, account)  # type: ignore[call-overload]
        if id(created) not in self._watched:
            self._watched.add(id(created))
            self.log.watch(created)
        return created
