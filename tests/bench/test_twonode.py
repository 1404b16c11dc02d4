"""The checks of bench/twonode.py that are more than a comparison."""

from collections import Counter

from bench.twonode import count_mismatches, receipt_gaps, step_of


def test_receipts_numbered_one_to_n_each_year_have_no_gap():
    assert receipt_gaps([(2026, 2), (2026, 1), (2026, 3), (2027, 1)]) == []


def test_a_missing_or_repeated_receipt_number_is_named():
    assert receipt_gaps([(2026, 1), (2026, 3), (2026, 3), (2027, 2)]) == [
        "2026: repeated [3]",
        "2026: missing [2]",
        "2027: missing [1]",
    ]


def test_confirmations_are_expected_once_each_and_nowhere_else():
    received = Counter({"a@example.com": 1, "b@example.com": 2, "stray@example.com": 1})
    expected = ["a@example.com", "b@example.com", "c@example.com"]
    assert count_mismatches(expected, received) == {
        "b@example.com": 2,
        "c@example.com": 0,
        "stray@example.com": 1,
    }


def test_the_step_of_a_request_is_read_from_its_path():
    assert step_of("/pay/tok/") == "page"
    assert step_of("/pay/tok/setup/?lang=it") == "setup"
    assert step_of("/pay/tok/attempts/?lang=it") == "attempts"
    assert step_of("/pay/tok/result/5f0c/") == "result"
