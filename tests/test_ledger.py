import pytest

from builders.ledger import Ledger


def test_bulk_publish_records_what_one_by_one_publishing_records():
    one, bulk = Ledger(), Ledger()
    for ledger in (one, bulk):
        ledger.read_lines("rules", "final.csv", range(2, 5))
    for line in range(2, 5):
        one.publish("rules", "final.csv", line, f"rule-{line}")
    bulk.publish_many("rules", [("final.csv", line, f"rule-{line}") for line in range(2, 5)])
    assert bulk.entries() == one.entries()
    assert bulk.counts() == one.counts() == {"read": 3, "published": 3, "folded": 0, "excluded": 0, "rejected": 0}


def test_bulk_publish_refuses_rows_never_read_or_already_recorded():
    ledger = Ledger()
    ledger.read_lines("rules", "final.csv", [2])
    with pytest.raises(RuntimeError, match="final.csv:3 was given an outcome but never read"):
        ledger.publish_many("rules", [("final.csv", 3, "rule-a")])
    ledger.reject("rules", "final.csv", 2, "rot", "empty rule text")
    with pytest.raises(RuntimeError, match="already rejected"):
        ledger.publish_many("rules", [("final.csv", 2, "rule-a")])
