"""Models, validation and storage in a few lines (no AWS needed)."""

from drs_orchestration import (
    LaunchSettings,
    MemoryStorage,
    ProtectionGroup,
    RecoveryPlan,
    ValidationError,
)

storage = MemoryStorage()
database = ProtectionGroup(
    name="database",
    region="us-east-1",
    source_server_ids=["s-1234567890abcdef0"],
    launch_settings=LaunchSettings(
        copy_private_ip=True,
        target_instance_type_right_sizing_method="NONE",
        instance_type="r6i.xlarge",
    ),
)
database = storage.protection_groups.put(database)  # optimistic locking: version 0 -> 1
print(database.group_id, "version", database.version)

plan = RecoveryPlan.parse(
    {"name": "shop", "waves": [{"name": "database", "serverIds": database.source_server_ids}]}
)
print("waves:", [wave.name for wave in plan.ordered_waves()])

try:
    LaunchSettings.parse({"copyPrivateIp": True, "staticPrivateIp": "10.0.0.300"})
except ValidationError as error:
    for problem in error.problems:
        print("invalid:", problem["field"], "-", problem["message"])
