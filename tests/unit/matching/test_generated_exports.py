"""The synthetic exports the scale benchmark scores both tools on, and the truth written beside them."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from benchmarks.gen_variants import export_rows, read_true_pairs, write_exports


def test_each_books_copy_linked_to_an_account_belongs_to_that_accounts_company() -> None:
    exports = export_rows(300, seed=3)

    linked = [row for row in exports.books_rows if row["CRM Account ID"]]
    assert linked  # the check below is not over nothing
    for row in linked:
        assert (
            exports.companies[f"books:{row['Contact ID']}"]
            == exports.companies[f"crm:{row['CRM Account ID']}"]
        )


def test_true_pairs_are_every_two_rows_of_one_company() -> None:
    exports = export_rows(300, seed=3)

    sizes = Counter(exports.companies.values())
    pairs = exports.true_pairs()

    assert len(exports.companies) == 600
    assert len(pairs) == sum(n * (n - 1) // 2 for n in sizes.values())
    assert max(sizes.values()) == 3  # some accounts have a duplicate Books copy
    assert all(left < right for left, right in pairs)
    assert all(exports.companies[left] == exports.companies[right] for left, right in pairs)


def test_truth_file_reads_back_as_the_same_pairs(tmp_path: Path) -> None:
    crm, books = write_exports(200, tmp_path, seed=5)

    for export in (crm, books):
        with export.open(newline="", encoding="utf-8") as handle:
            assert len(list(csv.DictReader(handle))) == 200
    assert read_true_pairs(tmp_path) == export_rows(200, seed=5).true_pairs()
