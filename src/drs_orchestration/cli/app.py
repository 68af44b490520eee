"""The command tree: every command of ``drs-orchestration``, in the order ``--help`` lists them."""

from __future__ import annotations

import click

from drs_orchestration._version import __version__
from drs_orchestration.cli import (
    cache,
    demo,
    evidence,
    executions,
    failback,
    groups,
    match,
    plans,
    run,
)
from drs_orchestration.cli import validate as validate_command
from drs_orchestration.cli.options import OrderedGroup

__all__ = ["root"]

_EPILOG = """\b
Exit status:
  0    done (an execution completed, a check passed, a failback waits for
       its next request)
  1    the command failed: an execution failed or was cancelled, a server's
       failback failed, a check found problems (preflight, drift, plans
       check), nothing stored under that name or ID, a confirmation declined
  2    the command line or an input file is wrong (usage, validation)
  3    AWS or the storage failed (credentials, access, a foreign database)
  130  interrupted (Ctrl-C); a running execution keeps its state
\b
Storage (every command's --storage): sqlite:///PATH, dynamodb://PREFIX?region=R
or memory; default $DRS_ORCHESTRATION_STORAGE, else a per-user SQLite file.
Shell completion: eval "$(_DRS_ORCHESTRATION_COMPLETE=bash_source drs-orchestration)"
"""


@click.group(
    name="drs-orchestration",
    cls=OrderedGroup,
    epilog=_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(
    __version__, "--version", prog_name="drs-orchestration", message="%(prog)s %(version)s"
)
def root() -> None:
    """Disaster-recovery orchestration for AWS Elastic Disaster Recovery (DRS).

    Protection groups carry each server's launch settings, recovery plans
    order groups into waves, and drills and recoveries run a plan wave by
    wave; every step is stored, so an execution can be followed, resumed or
    reported from any terminal.
    """


for command in (
    demo.demo,
    groups.groups,
    plans.plans,
    validate_command.validate,
    run.preflight,
    run.drill,
    run.recover,
    executions.executions,
    executions.status,
    run.step,
    run.resume,
    run.pause,
    run.cancel,
    failback.failback,
    cache.terminate,
    cache.cache,
    match.match,
    evidence.report,
):
    root.add_command(command)
