"""A receiver change through Dagster: Coazze (2) deactivated at noon of the change day, the ids after
it (by name) shifting down. The all_receivers_reported check asks, per upload day, for the receivers active
that day and counts each measurement for the station its id named then; the report assets name
the station that had the id at the measurement's time."""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from dagster import AssetCheckSeverity, materialize

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.defs.analytics.reports import ANALYTICS_ASSETS
from heimdall_pipeline.devtools.sample_data import SampleObject, encode, measurement_document, metadata_key
from heimdall_pipeline.schema.stations import load_station_file, sync_stations
from heimdall_pipeline_tests.defs.conftest import QUIET, check_evaluations, put_uploaded_at, run_chain
from heimdall_pipeline_tests.schema.test_stations import AFTER_T, BY_NAME, T, coazze_deactivated

BEFORE, CHANGE_DAY, AFTER = date(2026, 7, 1), date(2026, 7, 2), date(2026, 7, 3)
assert T == datetime.combine(CHANGE_DAY, time(12), tzinfo=UTC)


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def session(task_id: str, started: datetime, websdr_ids) -> list[SampleObject]:
    rng = random.Random(task_id)
    return [
        SampleObject(metadata_key(task_id, i), encode(measurement_document(rng, i, 145.5, started + timedelta(seconds=i))))
        for i in websdr_ids
    ]


def test_check_and_reports_across_a_deactivation(stations_restored, resources, s3, bucket, tmp_path):
    with connect(stations_restored) as owner:
        sync_stations(owner, load_station_file(coazze_deactivated(tmp_path)), effective_at=T, recorded_by="test", source="test")
    uploads = [
        (session("before", at(BEFORE, 10), range(1, 8)), at(BEFORE, 10)),
        (session("change-am", at(CHANGE_DAY, 8), range(1, 8)), at(CHANGE_DAY, 8)),  # Heimdall's old numbering
        (session("change-pm", at(CHANGE_DAY, 16), range(1, 7)), at(CHANGE_DAY, 16)),  # the new one: 1..6
        # The day after, id 2 (now Genova) is silent.
        (session("after", at(AFTER, 10), (1, 3, 4, 5, 6)), at(AFTER, 10)),
    ]
    for objects, uploaded_at in uploads:
        put_uploaded_at(s3, bucket, objects, uploaded_at + timedelta(minutes=5))

    checks = {
        day: check_evaluations(run_chain(resources, day.isoformat()))["all_receivers_reported"]
        for day in (BEFORE, CHANGE_DAY, AFTER)
    }

    assert checks[BEFORE].passed
    assert checks[BEFORE].metadata["expected receivers"].value == ", ".join(BY_NAME)
    # The change day expects every station active at some moment of it, Coazze included.
    change_day = checks[CHANGE_DAY]
    assert change_day.passed
    assert change_day.metadata["expected receivers"].value == ", ".join(BY_NAME)
    table = change_day.metadata["measurements per receiver"].value
    assert "| 2 | Coazze | 1 |" in table and "| 3, 2 | Genova | 2 |" in table and "| 7, 6 | Torino | 2 |" in table
    # The day after: six expected; silent id 2 is Genova (a fixed map would blame Coazze and Torino).
    after = checks[AFTER]
    assert not after.passed and after.severity == AssetCheckSeverity.WARN
    assert after.metadata["expected receivers"].value == ", ".join(AFTER_T.values())
    assert after.metadata["missing receivers"].value == "Genova"
    assert after.description == "missing: Genova"
    assert after.metadata["ids no station had then"].value == "-"

    end = at(AFTER, 0).isoformat()  # the window [BEFORE 00:00, AFTER 00:00)
    run_config = {
        **QUIET,
        "ops": {
            a.key.to_user_string(): {"config": {"window_hours": 48, "end": end}}
            for a in ANALYTICS_ASSETS
            if a.key.to_user_string() != "timescaledb_health"
        },
    }
    reports = [a for a in ANALYTICS_ASSETS if a.key.to_user_string() != "timescaledb_health"]
    assert materialize(reports, resources=resources, run_config=run_config).success

    def report_csv(name: str) -> pd.DataFrame:
        body = s3.get_object(Bucket=bucket, Key=f"reports/{name}/{AFTER.isoformat()}/{name}.csv")["Body"].read()
        return pd.read_csv(io.BytesIO(body))

    performance = report_csv("receiver_performance").set_index("receiver")
    assert sorted(performance.index) == BY_NAME  # no 'websdr 7', no station twice
    assert performance.loc["Coazze", "measurement_count"] == 2  # before T only
    assert (performance.loc["Genova", "measurement_count"], performance.loc["Genova", "websdr_ids"]) == (3, "3, 2")
    assert performance.loc["Torino", "websdr_ids"] == "7, 6"
    coverage = report_csv("coverage").set_index("receiver")
    assert coverage["sessions_all_reported"].unique().tolist() == [3]  # each heard by all active at its time
    trends = report_csv("snr_trends")
    pm = trends[trends["hour"] == f"{CHANGE_DAY.isoformat()}T16:00:00Z"].set_index("websdr_id")["receiver"].to_dict()
    assert pm == AFTER_T
    am = trends[trends["hour"] == f"{CHANGE_DAY.isoformat()}T08:00:00Z"].set_index("websdr_id")["receiver"].to_dict()
    assert am == dict(enumerate(BY_NAME, start=1))
