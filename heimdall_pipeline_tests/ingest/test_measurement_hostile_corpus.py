"""Each kind of the hostile corpus at the parser: its reason code, a short reason, no exception."""

from __future__ import annotations

from datetime import date

import pytest

from heimdall_pipeline.ingest.measurement import MAX_REASON_CHARS, RejectedObject, parse_metadata_object
from heimdall_pipeline_tests.hostile_corpus import hostile_objects

DAY = date(2026, 11, 28)
CORPUS = hostile_objects(DAY)


def test_the_corpus_has_at_least_40_distinct_kinds_and_keys():
    assert len({case.kind for case in CORPUS}) == len(CORPUS) >= 40
    assert len({case.key for case in CORPUS}) == len(CORPUS)
    assert len({case.expected_code for case in CORPUS}) >= 14


@pytest.mark.parametrize("case", CORPUS, ids=[case.kind for case in CORPUS])
def test_each_hostile_kind_gets_its_reason(case):
    with pytest.raises(RejectedObject) as caught:
        parse_metadata_object("heimdall-raw-iq", case.key, case.body)
    reason = caught.value.reason
    assert caught.value.code == case.expected_code, reason
    assert reason.startswith(f"{case.expected_code}: ")
    assert len(reason) <= MAX_REASON_CHARS and "\x00" not in reason
    reason.encode("utf-8")  # the ledger can store it
