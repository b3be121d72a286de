"""Launch runs the way the Dagster UI does, over its GraphQL endpoint: for the tests and the
benchmark that must show what a person clicking in the UI gets, not what a Python client gets.

The queries and mutations, and the parameters the UI fills in, are those of Dagster 1.13's UI
(dagster-webserver's ui-core: LaunchAssetExecutionButton, LaunchAssetChoosePartitionsDialog,
ConfigFetch, uiExecutionTags):

- `materialize_partition`: "Materialize" (or "Materialize all") on assets with one partition chosen,
  "Launch 1 run". The UI takes the first job every selected asset belongs to (`__ASSET_JOB` here),
  fetches that partition's tags and run config from the job (ConfigPartitionForAssetJobQuery), adds
  `dagster/from_ui`, selects the assets and their checks, and sends launchPipelineExecution.
- `launch_partition_backfill`: the same dialog with several partitions chosen, "Launch backfill":
  launchPartitionBackfill with the asset selection and the partition names (no job selector for
  Dagster's hidden asset job), which the daemon's backfill loop then runs.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable, Sequence

FROM_UI_TAG = {"key": "dagster/from_ui", "value": "true"}
REPOSITORY = "__repository__"

ASSET_NODES_QUERY = """
query LaunchAssetLoaderQuery($assetKeys: [AssetKeyInput!]!) {
  assetNodes(assetKeys: $assetKeys) {
    assetKey { path }
    jobNames
    repository { name location { name } }
    assetChecksOrError {
      ... on AssetChecks { checks { name jobNames } }
    }
  }
}
"""

CONFIG_PARTITION_FOR_ASSET_JOB_QUERY = """
query ConfigPartitionForAssetJobQuery($repositoryName: String!, $repositoryLocationName: String!,
    $jobName: String!, $partitionName: String!, $assetKeys: [AssetKeyInput!]!) {
  pipelineOrError(params: {pipelineName: $jobName, repositoryName: $repositoryName,
                           repositoryLocationName: $repositoryLocationName}) {
    ... on Pipeline {
      partition(partitionName: $partitionName, selectedAssetKeys: $assetKeys) {
        runConfigOrError { ... on PartitionRunConfig { yaml } ... on PythonError { message } }
        tagsOrError { ... on PartitionTags { results { key value } } ... on PythonError { message } }
      }
    }
    ... on PipelineNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

LAUNCH_PIPELINE_EXECUTION_MUTATION = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { id pipelineName } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message }
  }
}
"""

LAUNCH_PARTITION_BACKFILL_MUTATION = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PipelineNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

BACKFILL_STATUS_QUERY = """
query BackfillStatus($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    ... on PartitionBackfill { id status }
    ... on BackfillNotFoundError { message }
    ... on PythonError { message }
  }
}
"""


SENSOR_QUERY = """
query SensorId($sensorSelector: SensorSelector!) {
  sensorOrError(sensorSelector: $sensorSelector) {
    ... on Sensor { id sensorState { status } }
    ... on SensorNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

STOP_SENSOR_MUTATION = """
mutation StopRunningSensor($id: String!) {
  stopSensor(id: $id) {
    __typename
    ... on StopSensorMutationResult { instigationState { status } }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""


class UILaunchError(RuntimeError):
    """The webserver refused the launch (the UI would show this as an error toast)."""


def graphql(url: str, query: str, variables: dict, timeout: float = 60) -> dict:
    """POST one query to the webserver at `url` (http://host:port); the `data`, or UILaunchError."""
    request = urllib.request.Request(
        url.rstrip("/") + "/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.loads(response.read())
    if body.get("errors"):
        raise UILaunchError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def _key_inputs(asset_keys: Iterable[str]) -> list[dict]:
    return [{"path": key.split("/")} for key in asset_keys]


def materialize_partition(url: str, asset_keys: Sequence[str], partition: str) -> str:
    """ "Materialize" the assets for one partition as the UI does ("Launch 1 run"); the run's id."""
    keys = _key_inputs(asset_keys)
    nodes = graphql(url, ASSET_NODES_QUERY, {"assetKeys": keys})["assetNodes"]
    if len(nodes) != len(keys):
        raise UILaunchError(f"unknown assets among {list(asset_keys)}")
    common = [job for job in nodes[0]["jobNames"] if all(job in node["jobNames"] for node in nodes)]
    if not common:
        raise UILaunchError(f"{list(asset_keys)} share no job: the UI would launch a backfill")
    job = common[0]  # getCommonJob without a preferred job (the asset graph, not a job's page)
    location = nodes[0]["repository"]["location"]["name"]
    repository = nodes[0]["repository"]["name"]
    found = graphql(
        url,
        CONFIG_PARTITION_FOR_ASSET_JOB_QUERY,
        {
            "repositoryName": repository,
            "repositoryLocationName": location,
            "jobName": job,
            "partitionName": partition,
            "assetKeys": keys,
        },
    )["pipelineOrError"]
    if "partition" not in found:
        raise UILaunchError(f"job {job}: {found}")
    tags = [t for t in found["partition"]["tagsOrError"]["results"] if t["key"] != FROM_UI_TAG["key"]]
    checks = [
        {"name": check["name"], "assetKey": {"path": node["assetKey"]["path"]}}
        for node in nodes
        for check in (node.get("assetChecksOrError") or {}).get("checks", [])
        if not check["jobNames"] or job in check["jobNames"]
    ]
    params = {
        "mode": "default",
        "executionMetadata": {"tags": [*tags, FROM_UI_TAG]},
        "runConfigData": found["partition"]["runConfigOrError"].get("yaml") or "{}",
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": repository,
            "pipelineName": job,
            "assetSelection": keys,
            "assetCheckSelection": checks,
        },
    }
    result = graphql(url, LAUNCH_PIPELINE_EXECUTION_MUTATION, {"executionParams": params})["launchPipelineExecution"]
    if result["__typename"] != "LaunchRunSuccess":
        raise UILaunchError(f"launchPipelineExecution: {result}")
    return result["run"]["id"]


def launch_partition_backfill(url: str, asset_keys: Sequence[str], partitions: Sequence[str]) -> str:
    """ "Launch backfill" of the assets over `partitions`, as the UI sends it; the backfill's id."""
    params = {
        "tags": [FROM_UI_TAG],
        "assetSelection": _key_inputs(asset_keys),
        "partitionNames": list(partitions),
        "fromFailure": False,
    }
    result = graphql(url, LAUNCH_PARTITION_BACKFILL_MUTATION, {"backfillParams": params})["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        raise UILaunchError(f"launchPartitionBackfill: {result}")
    return result["backfillId"]


def backfill_status(url: str, backfill_id: str) -> str:
    """REQUESTED, COMPLETED_SUCCESS, COMPLETED_FAILED, FAILED, CANCELED, …"""
    found = graphql(url, BACKFILL_STATUS_QUERY, {"backfillId": backfill_id})["partitionBackfillOrError"]
    if "status" not in found:
        raise UILaunchError(f"backfill {backfill_id}: {found}")
    return found["status"]


def stop_sensor(url: str, name: str, location: str = "heimdall_pipeline", repository: str = REPOSITORY) -> str:
    """Turn a sensor off as its switch in the UI does; its status after (STOPPED)."""
    selector = {"repositoryLocationName": location, "repositoryName": repository, "sensorName": name}
    sensor = graphql(url, SENSOR_QUERY, {"sensorSelector": selector})["sensorOrError"]
    if "id" not in sensor:
        raise UILaunchError(f"sensor {name}: {sensor}")
    result = graphql(url, STOP_SENSOR_MUTATION, {"id": sensor["id"]})["stopSensor"]
    if result["__typename"] != "StopSensorMutationResult":
        raise UILaunchError(f"stopSensor {name}: {result}")
    return result["instigationState"]["status"]
