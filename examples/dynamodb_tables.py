"""Write the DynamoDB tables DynamoDBStorage needs as a CloudFormation template."""

import json
from pathlib import Path

from drs_orchestration.storage import cloudformation_template, table_definitions, ttl_attributes

prefix = "drs-orch-"
Path("storage-tables.json").write_text(json.dumps(cloudformation_template(prefix), indent=2))

for definition in table_definitions(prefix):  # the same tables, as CreateTable arguments
    print(
        definition["TableName"],
        [i["IndexName"] for i in definition.get("GlobalSecondaryIndexes", [])],
    )
print(ttl_attributes(prefix))  # {'drs-orch-executions': 'expiresAtEpoch', ...}
