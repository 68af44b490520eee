"""pytest fixtures for testing DR code offline against the DRS simulator and moto.

The package registers this module as a pytest plugin (entry point
``pytest11``), so with the ``sim`` extra installed (``pip install
"drs-orchestration[sim]"``, which brings moto) the fixtures are there in
every test without an import:

- ``drs_sim``: a fresh :class:`~drs_orchestration.testing.DrsSimulator`,
  active inside moto's ``mock_aws()`` for the test (moto serves EC2, STS and
  DynamoDB, the simulator DRS).
- ``simulated_clients``: a :class:`~drs_orchestration.testing.SimulatedClientFactory`
  for that simulator, to hand to the library's services.
- ``no_wait_retry``: the library's default :class:`~drs_orchestration.aws.RetryPolicy`
  with a sleep that returns at once, so retries are made as in production
  and no test waits through backoff.
- ``drs_sim_options``: the keyword arguments of
  :func:`~drs_orchestration.testing.mock_drs` that ``drs_sim`` uses (none);
  override it in a ``conftest.py`` to change them for many tests, or mark
  one test ``@pytest.mark.drs_sim(start=..., quotas=...)``.

Nothing is imported until a fixture is used: the plugin costs nothing in a
test session that does not use it, and says which extra to install if moto
is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from drs_orchestration.aws.retry import RetryPolicy
    from drs_orchestration.testing.factory import SimulatedClientFactory
    from drs_orchestration.testing.simulator import DrsSimulator

__all__ = ["drs_sim", "drs_sim_options", "no_wait_retry", "simulated_clients"]


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``drs_sim`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers",
        "drs_sim(**options): keyword arguments of drs_orchestration.testing.mock_drs() for "
        "this test's drs_sim fixture (start=, quotas=, timings=, seed=, strict=...)",
    )


def _no_wait(_seconds: float) -> None:
    """A sleep that returns at once."""


@pytest.fixture
def drs_sim_options() -> dict[str, Any]:
    """Keyword arguments of ``mock_drs()`` for ``drs_sim``; override it to change them.

    Examples:
        >>> @pytest.fixture
        ... def drs_sim_options():
        ...     return {"start": datetime(2026, 11, 23, 10, 0, tzinfo=UTC)}
    """
    return {}


@pytest.fixture
def drs_sim(
    request: pytest.FixtureRequest, drs_sim_options: dict[str, Any]
) -> Iterator[DrsSimulator]:
    """A fresh DRS simulator, active inside moto's ``mock_aws()`` for the test.

    Its options are ``drs_sim_options`` updated with the keyword arguments of
    the closest ``@pytest.mark.drs_sim(...)`` marker.

    Raises:
        ImportError: moto is not installed (it names the ``sim`` extra).
    """
    try:
        from moto import mock_aws
    except ImportError as error:
        raise ImportError(
            'the drs_sim fixture needs moto: pip install "drs-orchestration[sim]"'
        ) from error
    from drs_orchestration.testing import mock_drs

    options = dict(drs_sim_options)
    marker = request.node.get_closest_marker("drs_sim")
    if marker is not None:
        if marker.args:
            raise TypeError(
                f"@pytest.mark.drs_sim takes keyword arguments only (got {marker.args!r})"
            )
        options.update(marker.kwargs)
    with mock_aws(), mock_drs(**options) as sim:
        yield sim


@pytest.fixture
def simulated_clients(drs_sim: DrsSimulator) -> SimulatedClientFactory:
    """The library's client factory for ``drs_sim``: DRS from the simulator, the rest from moto."""
    from drs_orchestration.testing import SimulatedClientFactory

    return SimulatedClientFactory(drs_sim)


@pytest.fixture
def no_wait_retry() -> RetryPolicy:
    """The default retry policy (same attempts, same backoff) that never sleeps."""
    from drs_orchestration.aws.retry import RetryPolicy

    return RetryPolicy(sleep=_no_wait)
