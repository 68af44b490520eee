"""Every describe pages with maxResults and opaque nextTokens that botocore paginators follow."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sim_helpers import run_drill

from drs_orchestration.testing import DrsSimulator

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient


def test_450_source_servers_come_back_complete_through_the_paginator(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    seeded = {bare_sim.add_source_server(hostname=f"srv-{n:03d}") for n in range(450)}

    pages = list(bare_drs.get_paginator("describe_source_servers").paginate())
    found = [item["sourceServerID"] for page in pages for item in page["items"]]

    assert len(found) == 450
    assert set(found) == seeded
    assert len(pages) == 5  # the default page is 100
    assert all("nextToken" in page for page in pages[:-1])
    assert "nextToken" not in pages[-1]


def test_max_results_is_honoured(bare_sim: DrsSimulator, bare_drs: DrsClient) -> None:
    for n in range(7):
        bare_sim.add_source_server(hostname=f"s{n}")
    first = bare_drs.describe_source_servers(maxResults=3)
    assert len(first["items"]) == 3
    second = bare_drs.describe_source_servers(maxResults=3, nextToken=first["nextToken"])
    assert len(second["items"]) == 3
    assert not {i["sourceServerID"] for i in first["items"]} & {
        i["sourceServerID"] for i in second["items"]
    }
    paginator = bare_drs.get_paginator("describe_source_servers")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["items"]) for p in pages] == [2, 2, 2, 1]


def test_a_token_from_another_operation_is_refused(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    for n in range(3):
        bare_sim.add_source_server(hostname=f"s{n}")
    token = bare_drs.describe_source_servers(maxResults=1)["nextToken"]
    with pytest.raises(bare_drs.exceptions.ValidationException):
        bare_drs.describe_jobs(nextToken=token)
    with pytest.raises(bare_drs.exceptions.ValidationException):
        bare_drs.describe_source_servers(nextToken="not-a-token")


def test_jobs_page_latest_first(bare_sim: DrsSimulator, bare_drs: DrsClient) -> None:
    servers = [bare_sim.add_source_server(hostname=f"s{n}") for n in range(5)]
    job_ids = []
    for server in servers:
        job_ids.append(run_drill(bare_drs, [server])["jobID"])
        bare_sim.advance(60)
    pages = bare_drs.get_paginator("describe_jobs").paginate(PaginationConfig={"PageSize": 2})
    listed = [job["jobID"] for page in pages for job in page["items"]]
    assert listed == list(reversed(job_ids))


def test_job_filters_by_id_and_creation_time(bare_sim: DrsSimulator, bare_drs: DrsClient) -> None:
    first, second = (bare_sim.add_source_server(hostname=f"s{n}") for n in range(2))
    early = run_drill(bare_drs, [first])
    bare_sim.advance(3600)
    late = run_drill(bare_drs, [second])

    by_id = bare_drs.describe_jobs(filters={"jobIDs": [early["jobID"]]})["items"]
    assert [j["jobID"] for j in by_id] == [early["jobID"]]
    since = bare_drs.describe_jobs(filters={"fromDate": late["creationDateTime"]})["items"]
    assert [j["jobID"] for j in since] == [late["jobID"]]
    until = bare_drs.describe_jobs(filters={"toDate": early["creationDateTime"]})["items"]
    assert [j["jobID"] for j in until] == [early["jobID"]]
