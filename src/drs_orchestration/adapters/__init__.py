"""Thin adapters that embed the library in AWS services.

- :mod:`drs_orchestration.adapters.aws_lambda`: one Lambda handler for API
  Gateway (REST and HTTP APIs), direct invocations, EventBridge events and
  ARC Region switch custom actions (extra ``lambda``).
- :mod:`drs_orchestration.adapters.stepfunctions`: the Amazon States Language
  definition that drives an execution through that handler, and the IAM
  statements its role needs.

Nothing here is imported by the rest of the library; each adapter imports
its optional dependencies itself and names the extra to install when one is
missing.
"""
