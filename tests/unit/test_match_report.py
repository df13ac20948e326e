"""``sync-guard match-report`` end to end on small Zoho-shaped exports (tests/fixtures/exports)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync_guard.cli import app
from sync_guard.exports.report.csv_files import PAIRS_HEADER

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["match-report", *args])
    return result.exit_code, result.output


def write_export(folder: Path, name: str, text: str) -> Path:
    """An export file written by hand."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def report(out: Path, *args: str) -> Path:
    """The report folder of a run that must succeed."""
    code, output = run(*args, "--out", str(out))
    assert code == 0, output
    return out


def report_from(folder: Path, *, crm: str = "", books: str = "") -> Path:
    """The report folder of a run on exports written by hand (either may be left out)."""
    args = []
    if crm:
        args += ["--crm", str(write_export(folder, "accounts.csv", crm))]
    if books:
        args += ["--books", str(write_export(folder, "customers.csv", books))]
    return report(folder / "report", *args, "--quiet")


def summary_and_ticket(out: Path) -> tuple[str, str]:
    """The text of ``summary.md`` and of ``support-ticket.md``."""
    return (out / "summary.md").read_text(encoding="utf-8"), (out / "support-ticket.md").read_text(
        encoding="utf-8"
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    out = tmp_path / "report"
    code, output = run(
        "--crm",
        str(FIXTURES / "crm_accounts.csv"),
        "--books",
        str(FIXTURES / "books_customers.csv"),
        "--out",
        str(out),
        "--crm-org",
        "20012345",
        "--books-org",
        "700123456",
    )
    assert code == 0, output
    return out


def pair_set(out: Path, verdict: str = "duplicate") -> set[tuple[str, str]]:
    return {(r["left_id"], r["right_id"]) for r in read_csv(out / "pairs.csv") if r["verdict"] == verdict}


def test_writes_the_four_files(report_dir: Path) -> None:
    assert sorted(p.name for p in report_dir.iterdir()) == [
        "clusters.csv",
        "pairs.csv",
        "summary.md",
        "support-ticket.md",
    ]
    with (report_dir / "pairs.csv").open(encoding="utf-8") as handle:
        assert handle.readline().strip() == ",".join(PAIRS_HEADER)


def test_links_name_drift_across_systems_and_within_each(report_dir: Path) -> None:
    duplicates = pair_set(report_dir)
    assert ("1001", "46000002") in duplicates  # Ltd / Limited across systems
    assert ("1001", "1002") in duplicates  # within CRM
    assert ("46000001", "46000002") in duplicates  # within Books
    assert ("1003", "46000003") in duplicates  # & / and
    assert ("1004", "46000004") in duplicates  # "The Design Lab" / "Design Lab, The"


def test_classic_false_positives_are_not_paired(report_dir: Path) -> None:
    every = pair_set(report_dir) | pair_set(report_dir, "possible")
    assert ("1005", "46000005") not in every  # Bank of the West / Bank of the East
    assert ("1006", "46000006") not in every  # Ramesh / Ganesh Traders


def test_evidence_is_readable(report_dir: Path) -> None:
    rows = {(r["left_id"], r["right_id"]): r for r in read_csv(report_dir / "pairs.csv")}
    evidence = rows[("1001", "46000002")]["evidence"]
    assert "same name once 'Limited' is folded to 'Ltd'" in evidence
    assert "same phone +44 20 7946 0000" in evidence
    assert rows[("1001", "46000002")]["left_system"] == "crm"
    assert rows[("1001", "46000002")]["right_system"] == "books"


def test_clusters_suggest_the_books_copy_with_transactions_and_the_oldest_crm_record(
    report_dir: Path,
) -> None:
    rows = read_csv(report_dir / "clusters.csv")
    acme = [r for r in rows if r["cluster"] == "1"]
    assert {r["id"] for r in acme} == {"1001", "1002", "46000001", "46000002"}
    survivors = {r["id"]: r["suggested_survivor"] for r in acme if r["suggested_survivor"]}
    assert survivors == {
        "46000001": "keep in Books: the only copy with an outstanding balance; transactions of 46000002 "
        "unknown: check them in Books before deactivating",
        "1001": "keep in CRM: created first: the longer history",
    }
    # The linked Smith & Co pair is healthy: it is a pair, but not a cluster to clean up.
    assert "1003" not in {r["id"] for r in rows}


def test_summary_counts_patterns(report_dir: Path) -> None:
    summary = (report_dir / "summary.md").read_text(encoding="utf-8")
    assert "| CRM ↔ Books: name drift (Ltd/Limited, &/and, The, case, spaces) |" in summary
    assert "| CRM ↔ Books: already linked by the sync | 2 | 0 |" in summary
    assert "several Books customers: 1" in summary


def test_support_ticket_quotes_both_org_ids_and_examples(report_dir: Path) -> None:
    ticket = (report_dir / "support-ticket.md").read_text(encoding="utf-8")
    assert "Zoho CRM organisation ID: 20012345" in ticket
    assert "Zoho Books organisation ID: 700123456" in ticket
    assert (
        'Books "Acme Widgets Limited" (id 46000002, active, nothing outstanding, transactions unknown)'
        in ticket
    )
    assert "Books customer 46000001 should be the one kept" in ticket


def test_the_ticket_asks_its_reader_to_pause_the_sync_it_says_is_paused(report_dir: Path) -> None:
    ticket = (report_dir / "support-ticket.md").read_text(encoding="utf-8")
    before_sending, _, body = ticket.partition("**Subject:**")
    assert "We have paused the contact sync (without disconnecting)" in body
    assert "Before you send it: pause the contact and account sync in CRM" in before_sending
    assert "without disconnecting the integration" in before_sending


def test_one_export_alone_finds_duplicates_within_it(tmp_path: Path) -> None:
    out = report(tmp_path / "books-only", "--books", str(FIXTURES / "books_customers.csv"))
    assert pair_set(out) == {("46000001", "46000002")}


def test_canonical_headers_with_a_map_override(tmp_path: Path) -> None:
    out = tmp_path / "canonical"
    args = [
        "--books",
        str(FIXTURES / "canonical_customers.csv"),
        "--out",
        str(out),
        "--map",
        "Trading Name=name",
    ]
    code, output = run(*args)
    assert code == 0, output
    rows = read_csv(out / "pairs.csv")
    assert [(r["left_id"], r["right_id"], r["verdict"]) for r in rows] == [("b1", "b2", "duplicate")]
    assert "same VAT/company number GB123456789" in rows[0]["evidence"]


def test_crm_contacts_are_matched_as_people(tmp_path: Path) -> None:
    out = report(tmp_path / "contacts", "--crm", str(FIXTURES / "crm_contacts.csv"))
    # Jane Smith / Smith, Jane with the same email; John Smith at the same company is someone else.
    assert pair_set(out) == {("c1", "c2")}


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        (
            "malformed_extra_field.csv",
            "malformed_extra_field.csv, line 4: row has 4 fields, the header has 3",
        ),
        ("malformed_quote.csv", "malformed_quote.csv, line 4: not valid CSV"),
    ],
)
def test_malformed_csv_names_file_and_line_and_writes_nothing(
    tmp_path: Path, fixture: str, message: str
) -> None:
    out = tmp_path / "never"
    code, output = run("--crm", str(FIXTURES / fixture), "--out", str(out))
    assert code == 2
    assert message in " ".join(output.split())
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no staging folder left behind either


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    code, output = run("--crm", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "nope.csv: cannot open" in " ".join(output.split())


def test_a_damaged_workbook_named_csv_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    workbook = tmp_path / "customers.csv"
    workbook.write_bytes(b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml")
    out = tmp_path / "out"
    code, output = run("--books", str(workbook), "--out", str(out))
    assert code == 2
    assert (
        "customers.csv: this looks like a workbook (xlsx, xls, ods), but cannot be read as one"
        in " ".join(output.split())
    )
    assert "Traceback" not in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers.csv"]


def test_a_windows_1252_export_pairs_with_a_utf8_one_and_the_summary_says_how_it_was_read(
    tmp_path: Path,
) -> None:
    # Books exported as UTF-8; the CRM export opened in Excel and saved again as "CSV (Comma delimited)".
    crm = tmp_path / "accounts.csv"
    crm.write_bytes(
        "Record Id,Account Name,Billing City\r\nz1,Müller Maschinenbau GmbH,München\r\n".encode("cp1252")
    )
    books = write_export(
        tmp_path,
        "customers.csv",
        "Contact ID,Display Name,Billing City\n46000001,Müller Maschinenbau GmbH,München\n",
    )
    out = report(tmp_path / "out", "--crm", str(crm), "--books", str(books), "--map", "Billing City=city")
    assert pair_set(out) == {("z1", "46000001")}
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "accounts.csv, line 2: not UTF-8, so the file is read as Windows-1252" in summary


def test_an_existing_report_is_kept_unless_replace(tmp_path: Path, report_dir: Path) -> None:
    before = (report_dir / "pairs.csv").read_text(encoding="utf-8")
    args = ["--books", str(FIXTURES / "books_customers.csv"), "--out", str(report_dir)]
    code, output = run(*args)
    assert code == 2
    assert "--replace" in output
    assert (report_dir / "pairs.csv").read_text(encoding="utf-8") == before
    code, output = run(*args, "--replace")
    assert code == 0, output
    assert pair_set(report_dir) == {("46000001", "46000002")}


def test_unknown_map_field_is_rejected(tmp_path: Path) -> None:
    code, output = run(
        "--books",
        str(FIXTURES / "canonical_customers.csv"),
        "--out",
        str(tmp_path / "o"),
        "--map",
        "X=nickname",
    )
    assert code == 2
    assert "unknown field 'nickname'" in output


def test_needs_at_least_one_export(tmp_path: Path) -> None:
    code, output = run("--out", str(tmp_path / "o"))
    assert code == 2
    assert "--crm" in output


def test_help_documents_inputs_and_outputs() -> None:
    code, output = run("--help")
    assert code == 0
    for words in ("--crm", "--books", "--map", "pairs.csv", "support-ticket.md", "Display Name"):
        assert words in output


def test_jobs_sets_the_worker_count_and_changes_nothing(
    tmp_path: Path, report_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync_guard.matching import bulk

    # Even the small fixtures go through the worker processes here.
    monkeypatch.setattr(bulk, "MIN_PARALLEL_RECORDS", 1)
    monkeypatch.setattr(bulk, "MIN_PARALLEL_COMPARISONS", 1)
    out = tmp_path / "parallel"
    crm, books = str(FIXTURES / "crm_accounts.csv"), str(FIXTURES / "books_customers.csv")
    code, output = run("--crm", crm, "--books", books, "--out", str(out), "--jobs", "2")
    assert code == 0, output
    for name in ("pairs.csv", "clusters.csv"):
        assert (out / name).read_bytes() == (report_dir / name).read_bytes()
    code, output = run("--crm", crm, "--books", books, "--out", str(tmp_path / "none"), "--jobs", "0")
    assert code != 0
    assert "--jobs" in output


def test_customers_in_other_currencies_are_not_cleaned_up(tmp_path: Path) -> None:
    crm = write_export(
        tmp_path,
        "accounts.csv",
        "Record Id,Account Name,Phone\nz1,Acme Ltd,020 7946 0000\nz2,Beta Ltd,020 7946 1111\n",
    )
    books = tmp_path / "customers.csv"
    books.write_text(
        "Contact ID,Display Name,Phone,Currency Code,CRM Account ID,Outstanding Receivable Amount\n"
        "b1,Acme Ltd,020 7946 0000,GBP,z1,100\n"
        "b2,Acme Ltd (USD),020 7946 0000,USD,,50\n"  # one customer per currency: intended
        "b3,Beta Ltd,020 7946 1111,GBP,z2,0\n"
        "b4,Beta Limited,020 7946 1111,GBP,,0\n"  # a duplicate in the same currency
        "b5,Beta Ltd - EUR,020 7946 1111,,,10\n"
    )
    out = tmp_path / "report"
    code, output = run("--crm", str(crm), "--books", str(books), "--out", str(out), "--quiet")
    assert code == 0, output
    assert ("b1", "b2") in pair_set(out, "possible")
    clusters = read_csv(out / "clusters.csv")
    assert {r["id"] for r in clusters} == {"z2", "b3", "b4", "b5"}  # Acme's twins are no cluster
    keep = next(r for r in clusters if r["suggested_survivor"])
    assert keep["id"] == "b3"  # not b5, the only one with money: it is the euro customer
    summary = (out / "summary.md").read_text()
    assert 'Books "Beta Ltd - EUR" (id b5, billed in EUR, holds an outstanding balance (10))' in summary
    assert (
        "| none known (unknown: b3, b4) | b3 (no copy is known to hold transactions; this one is linked to "
        "CRM; transactions of b4 unknown: check them in Books before deactivating) |"
    ) in summary


def test_a_map_for_a_column_of_one_export_leaves_the_other_alone(tmp_path: Path) -> None:
    out = tmp_path / "mapped"
    code, output = run(
        "--crm", str(FIXTURES / "crm_accounts.csv"),
        "--books", str(FIXTURES / "canonical_customers.csv"),
        "--out", str(out),
        "--map", "Trading Name=name",
    )  # fmt: skip
    assert code == 0, output
    assert ("b1", "b2") in pair_set(out)
    code, output = run(
        "--crm", str(FIXTURES / "crm_accounts.csv"),
        "--books", str(FIXTURES / "canonical_customers.csv"),
        "--out", str(tmp_path / "never"),
        "--map", "Nick Name=name",
    )  # fmt: skip
    assert code == 2
    assert "'Nick Name' in neither export's header" in " ".join(output.split())


def test_a_taken_output_folder_is_refused_before_the_exports_are_read(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    # the export is malformed: refusing the folder first means it is never read
    code, output = run("--crm", str(FIXTURES / "malformed_quote.csv"), "--out", str(taken))
    assert code == 2
    assert "already holds files" in " ".join(output.split())


def test_an_output_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = write_export(tmp_path, "a-file", "x")
    code, output = run("--crm", str(FIXTURES / "crm_accounts.csv"), "--out", str(blocker / "sub"))
    assert code == 2
    assert "cannot write a report in" in " ".join(output.split())


def test_names_that_read_as_formulas_stay_text_in_the_csv_files(tmp_path: Path) -> None:
    export = write_export(
        tmp_path,
        "books.csv",
        "Contact ID,Display Name,Phone\n"
        '1,"=HYPERLINK(""http://evil.example"",""Click"")",020 7946 0000\n'
        '2,"=HYPERLINK(""http://evil.example"",""Click"")",020 7946 0000\n',
    )
    out = report(tmp_path / "out", "--books", str(export))
    names = {row["name"] for row in read_csv(out / "clusters.csv")}
    assert names == {'\'=HYPERLINK("http://evil.example","Click")'}


def test_read_warnings_reach_the_summary(tmp_path: Path) -> None:
    export = write_export(
        tmp_path,
        "crm.csv",
        "Record Id,Account Name,Created Time\nz1,Acme Ltd,sometime last spring\nz2,Acme Limited,2020-01-01\n",
    )
    empty = write_export(tmp_path, "books.csv", "Contact ID,Display Name\n")
    out = report(tmp_path / "out", "--crm", str(export), "--books", str(empty))
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "## Warnings" in summary
    assert "created time 'sometime last spring' not understood" in summary
    assert "books.csv holds no records, only its header" in summary


def test_without_crm_ids_in_books_the_summary_says_links_cannot_be_told(tmp_path: Path) -> None:
    books = write_export(tmp_path, "books.csv", "Contact ID,Display Name\n46000001,Acme Widgets Ltd\n")
    out = report(tmp_path / "out", "--crm", str(FIXTURES / "crm_accounts.csv"), "--books", str(books))
    assert "The Books export gives no CRM Account ID" in (out / "summary.md").read_text(encoding="utf-8")
    # the fixtures' Books export gives them: no such note
    linked = tmp_path / "linked"
    run(
        "--crm",
        str(FIXTURES / "crm_accounts.csv"),
        "--books",
        str(FIXTURES / "books_customers.csv"),
        "--out",
        str(linked),
    )
    assert "gives no CRM Account ID" not in (linked / "summary.md").read_text(encoding="utf-8")


def test_no_duplicates_make_no_ticket_to_send(tmp_path: Path) -> None:
    books = write_export(
        tmp_path, "books.csv", "Contact ID,Display Name\n1,Acme Widgets Ltd\n2,Harbour Lights Cafe\n"
    )
    out = report(tmp_path / "out", "--books", str(books))
    ticket = (out / "support-ticket.md").read_text(encoding="utf-8")
    assert "nothing to ask Zoho support to repair" in ticket
    assert "Hello Zoho support" not in ticket


def test_region_is_read_as_a_country_and_an_unknown_one_is_refused(tmp_path: Path) -> None:
    code, output = run(
        "--crm", str(FIXTURES / "crm_accounts.csv"), "--out", str(tmp_path / "uk"), "--region", "UK"
    )
    assert code == 0, output
    code, output = run(
        "--crm", str(FIXTURES / "crm_accounts.csv"), "--out", str(tmp_path / "xx"), "--region", "XX"
    )
    assert code == 2
    assert "'XX' is not a country code" in " ".join(output.split())
    assert not (tmp_path / "xx").exists()


def test_books_customers_whose_crm_record_is_gone_are_listed_and_raised(tmp_path: Path) -> None:
    # the seed's CRM merge: the merged-away account's Books customer still carries its id
    crm = write_export(tmp_path, "crm.csv", "Record Id,Account Name\nzcrm_1,Acme Widgets Ltd\n")
    books = write_export(
        tmp_path,
        "books.csv",
        "Contact ID,Display Name,Outstanding Receivable Amount,CRM Account ID\n"
        "46000001,Acme Widgets Ltd,0,zcrm_1\n"
        "46000002,Beta Supplies Ltd,120.00,zcrm_2\n",
    )
    out = report(tmp_path / "out", "--crm", str(crm), "--books", str(books))
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "## Books customers whose CRM record is gone" in summary
    assert "1 Books customer is linked to a CRM record that is not in the CRM export" in summary
    assert "| 2 | yes |" in summary
    ticket = (out / "support-ticket.md").read_text(encoding="utf-8")
    assert "Books customer 46000002 linked to CRM id 2" in ticket
    # without a CRM export nothing can be said of the links
    alone = tmp_path / "alone"
    run("--books", str(books), "--out", str(alone))
    assert "whose CRM record is gone" not in (alone / "summary.md").read_text(encoding="utf-8")


def test_with_region_us_a_slash_date_is_read_month_first(tmp_path: Path) -> None:
    # Two copies, dates that read either way: December 1 and May 3 2018 in the US order, else 12 January
    # and 5 March.
    crm = write_export(
        tmp_path,
        "crm.csv",
        "Record Id,Account Name,Phone,Created Time\n"
        "z1,Acme Widgets Inc,(415) 555-0100,12/01/2018\n"
        "z2,ACME WIDGETS INC.,(415) 555-0100,05/03/2018\n",
    )
    us, gb = tmp_path / "us", tmp_path / "gb"
    assert run("--crm", str(crm), "--out", str(us), "--region", "US")[0] == 0
    assert run("--crm", str(crm), "--out", str(gb), "--region", "GB")[0] == 0

    def kept(out: Path) -> str:
        return next(r["id"] for r in read_csv(out / "clusters.csv") if r["suggested_survivor"])

    assert kept(us) == "z2"  # May 2018 is the longer history
    assert kept(gb) == "z1"  # read day first: 12 January 2018


def test_one_date_that_reads_one_way_decides_its_whole_column(tmp_path: Path) -> None:
    # 05/15/2018 can only be month first, so 06/01/2018 beside it is June 1, not 6 January.
    out = report_from(
        tmp_path,
        crm="Record Id,Account Name,Phone,Created Time\n"
        "z1,Lakeside Dental Group,(312) 555-0100,05/15/2018 09:00\n"
        "z2,Lakeside Dental Group LLC,(312) 555-0100,06/01/2018 09:00\n",
    )
    created = {r["id"]: r["created"] for r in read_csv(out / "clusters.csv")}
    assert created == {"z1": "2018-05-15T09:00:00", "z2": "2018-06-01T09:00:00"}
    summary, _ = summary_and_ticket(out)
    assert "z1 (created first: the longer history)" in summary


def test_a_date_column_written_in_both_orders_is_warned_of_in_the_summary(tmp_path: Path) -> None:
    out = report_from(
        tmp_path,
        crm="Record Id,Account Name,Created Time\nz1,Acme Ltd,05/15/2018\nz2,Beta Ltd,25/06/2018\n",
    )
    summary, _ = summary_and_ticket(out)
    assert (
        "created times are written both day first ('25/06/2018') and month first ('05/15/2018')"
    ) in summary


def test_a_paid_up_customer_is_not_called_one_without_transactions(tmp_path: Path) -> None:
    out = report_from(
        tmp_path,
        books="Contact ID,Display Name,Phone,Created Time,Outstanding Receivable Amount\n"
        "8001,Greenway Landscapes Ltd,01904 496 100,2015-02-01 09:00:00,0.00\n"
        "8002,Greenway Landscapes Ltd (2),01904 496 100,2025-06-10 14:00:00,120.00\n",
    )
    summary, ticket = summary_and_ticket(out)
    assert "no transactions" not in summary + ticket
    assert '"Greenway Landscapes Ltd" (id 8001, nothing outstanding, transactions unknown)' in ticket
    assert '"Greenway Landscapes Ltd (2)" (id 8002, holds an outstanding balance (120.00))' in summary
    assert "| 8002 (unknown: 8001) |" in summary
    assert "We will check the transactions of 8001 before deactivating." in ticket


def test_crm_ids_written_with_the_export_prefix_still_link_to_books(tmp_path: Path) -> None:
    out = report_from(
        tmp_path,
        crm="Record Id,Account Name,Phone\nzcrm_4876000000101001,Acme Widgets Ltd,020 7946 0011\n",
        books="Contact ID,Display Name,Phone,CRM Account ID\n"
        "7001,Acme Widgets Ltd,020 7946 0011,4876000000101001\n",
    )
    summary, _ = summary_and_ticket(out)
    assert "| CRM ↔ Books: already linked by the sync | 1 | 0 |" in summary
    assert "whose CRM record is gone" not in summary
    assert pair_set(out) == {("4876000000101001", "7001")}


def test_summary_and_ticket_say_to_re_point_books_before_merging_crm(tmp_path: Path) -> None:
    out = report_from(
        tmp_path,
        crm="Record Id,Account Name,Phone,Created Time\n"
        "c1,Solent Marine Ltd,023 8049 6000,2014-05-05 09:00:00\n"
        "c2,Solent Marine Limited,023 8049 6000,2020-05-05 09:00:00\n",
        books="Contact ID,Display Name,Phone,CRM Account ID,Outstanding Receivable Amount\n"
        "7002,Solent Marine Ltd,023 8049 6000,c2,4000.00\n",
    )
    move = "re-point Books 7002 (linked to CRM c2) to CRM c1 before merging the CRM records"
    summary, ticket = summary_and_ticket(out)
    assert f"| c1 (created first: the longer history); first {move} |" in summary
    assert f"CRM record c1 should be the one kept; please {move}." in ticket


def test_status_is_shown_where_the_survivor_is_explained(tmp_path: Path) -> None:
    out = report_from(
        tmp_path,
        books="Contact ID,Display Name,Phone,Status,Created Time\n"
        "8101,Marlow Joinery Ltd,01628 496 100,Inactive,2016-02-01 09:00:00\n"
        "8102,Marlow Joinery Limited,01628 496 100,Active,2021-06-10 14:00:00\n",
    )
    rows = {r["id"]: r for r in read_csv(out / "clusters.csv")}
    assert (rows["8101"]["status"], rows["8102"]["status"]) == ("inactive", "active")
    assert rows["8102"]["suggested_survivor"].startswith(
        "keep in Books: no copy is known to hold transactions"
    )
    summary, _ = summary_and_ticket(out)
    assert 'Books "Marlow Joinery Ltd" (id 8101, inactive, transactions unknown)' in summary


def test_ticket_examples_are_small_clusters_and_list_a_few_records_each(tmp_path: Path) -> None:
    many = "".join(f"a{n},Acme Widgets Ltd,020 7946 0000,0\n" for n in range(10))
    out = report_from(
        tmp_path,
        books="Contact ID,Display Name,Phone,Outstanding Receivable Amount\n"
        + many
        + "b1,Beta Supplies Ltd,020 7946 1111,50\nb2,Beta Supplies Ltd,020 7946 1111,0\n",
    )
    _, ticket = summary_and_ticket(out)
    first, second = (line for line in ticket.splitlines() if line.startswith(("1. ", "2. ")))
    assert first.startswith('1. Books "Beta Supplies Ltd" (id b1')  # small, with transactions
    assert second.count('Books "Acme Widgets Ltd"') == 6
    assert second.endswith("; and 4 more records (cluster 1 in our report).")


def test_a_crm_records_customer_in_another_currency_is_not_counted_as_a_copy(tmp_path: Path) -> None:
    out = report_from(
        tmp_path,
        crm="Record Id,Account Name,Phone,Billing Street,Billing Code\n"
        "c5,Orion Analytics Ltd,020 7946 0999,1 Canada Square,E14 5AB\n",
        books="Contact ID,Display Name,Phone,Billing Address,Billing Code,Currency Code,CRM Account ID\n"
        "b9,Orion Analytics Ltd,020 7946 0999,1 Canada Square,E14 5AB,GBP,c5\n"
        "b10,Orion Analytics Ltd (USD),020 7946 0999,1 Canada Square,E14 5AB,USD,\n",
    )
    summary, ticket = summary_and_ticket(out)
    assert "| CRM ↔ Books: a customer in another currency (intended) | 1 | 0 |" in summary
    assert "| within Books: a customer in another currency (intended) | 0 | 1 |" in summary
    assert "name drift" not in summary
    assert "nothing to ask Zoho support to repair" in ticket


ONE_CRM_ACCOUNT = "Record Id,Account Name,Phone\nc1,Acme Widgets Ltd,020 7946 0011\n"


def test_summary_and_ticket_ask_for_the_crm_link_to_move_to_the_books_copy_kept(tmp_path: Path) -> None:
    out = report_from(
        tmp_path,
        crm=ONE_CRM_ACCOUNT,
        books="Contact ID,Display Name,Phone,CRM Account ID,Outstanding Receivable Amount\n"
        "b1,Acme Widgets Limited,020 7946 0011,,1250.50\n"
        "b2,Acme Widgets Ltd,020 7946 0011,c1,0\n",
    )
    move = "link CRM c1 to Books b1 instead of Books b2, before deactivating it"
    summary, ticket = summary_and_ticket(out)
    assert f"| {move} | several Books customers |" in summary
    assert f"Books customer b1 should be the one kept; please {move}." in ticket


def test_the_ticket_says_a_second_invoiced_copy_is_moved_from_not_deleted(tmp_path: Path) -> None:
    out = report_from(
        tmp_path,
        books="Contact ID,Display Name,Phone,Outstanding Receivable Amount,Created Time\n"
        "b1,Northwind Traders Ltd,01482 496 100,800,2014-01-02 09:00:00\n"
        "b2,Northwind Traders Limited,01482 496 100,200,2020-01-02 09:00:00\n",
    )
    summary, ticket = summary_and_ticket(out)
    assert "move those of b2 to this one before deactivating it" in summary
    assert (
        "Books b2 also holds transactions: we will move them to b1 before deactivating it, and delete "
        "nothing." in ticket
    )


def test_clusters_csv_carries_the_sync_links_to_repair_for_clusters_the_summary_leaves_out(
    tmp_path: Path,
) -> None:
    out = report_from(
        tmp_path,
        crm="Record Id,Account Name,Phone,Created Time\n"
        "c1,Solent Marine Ltd,023 8049 6000,2014-05-05 09:00:00\n"
        "c2,Solent Marine Limited,023 8049 6000,2020-05-05 09:00:00\n"
        "c3,Acme Widgets Ltd,020 7946 0011,2015-01-01 09:00:00\n",
        books="Contact ID,Display Name,Phone,CRM Account ID,Outstanding Receivable Amount\n"
        "7002,Solent Marine Ltd,023 8049 6000,c2,4000.00\n"
        "b1,Acme Widgets Limited,020 7946 0011,,1250.50\n"
        "b2,Acme Widgets Ltd,020 7946 0011,c3,0\n",
    )
    links = {r["id"]: r["sync_links_to_repair"] for r in read_csv(out / "clusters.csv")}
    solent = "re-point Books 7002 (linked to CRM c2) to CRM c1 before merging the CRM records"
    acme = "link CRM c3 to Books b1 instead of Books b2, before deactivating it"
    assert {links["c1"], links["c2"], links["7002"]} == {solent}
    assert {links["c3"], links["b1"], links["b2"]} == {acme}


def test_counts_of_one_read_in_the_singular(tmp_path: Path) -> None:
    books = "Contact ID,Display Name,Phone,CRM Account ID\nb1,Acme Widgets Limited,020 7946 0011,c1\n"
    out = report_from(tmp_path, crm=ONE_CRM_ACCOUNT, books=books + "b2,Acme Widgets Ltd,020 7946 0011,c9\n")
    summary, ticket = summary_and_ticket(out)
    assert "1 CRM record, 2 Books customers, 3 comparisons." in summary
    assert "1 cluster of records joined by duplicate pairs" in summary
    assert "1 CRM record and 2 Books customers; 1 group of duplicates" in ticket
    assert "Also, 1 Books customer is linked to a CRM record that no longer exists" in ticket
    assert "Please re-point it to the surviving CRM record." in ticket


def test_a_crm_only_ticket_asks_which_books_customers_the_crm_copies_are_linked_to(tmp_path: Path) -> None:
    out = report_from(tmp_path, crm=ONE_CRM_ACCOUNT + "c2,Acme Widgets Limited,020 7946 0011\n")
    _, ticket = summary_and_ticket(out)
    assert "CRM record c1 should be the one kept" in ticket
    assert "please tell us which Books customer each CRM record in these examples is linked to" in ticket
    (tmp_path / "both").mkdir()
    with_books = report_from(
        tmp_path / "both",
        crm=ONE_CRM_ACCOUNT + "c2,Acme Widgets Limited,020 7946 0011\n",
        books="Contact ID,Display Name\n",
    )
    assert "please tell us which Books customer" not in summary_and_ticket(with_books)[1]


def test_the_ticket_masks_a_customer_named_by_an_email_address(tmp_path: Path) -> None:
    out = report_from(
        tmp_path,
        books="Contact ID,Display Name,Phone,Outstanding Receivable Amount\n"
        "b1,jane.doe@acme.co.uk,020 7946 0022,50\n"
        "b2,Jane.Doe@acme.co.uk,020 7946 0022,0\n",
    )
    summary, ticket = summary_and_ticket(out)
    assert "jane.doe@acme.co.uk" in summary.lower()  # the report kept in house names it
    assert "Books customer b1 should be the one kept" in ticket
    assert "doe@acme.co.uk" not in ticket.lower()


def test_csv_cells_are_written_as_before(report_dir: Path) -> None:
    # The writer formats each score once and looks texts up: what a row holds is unchanged.
    pairs = read_csv(report_dir / "pairs.csv")
    assert all(len(r["score"]) == 6 and float(r["score"]) == round(float(r["score"]), 4) for r in pairs)
    assert {r["verdict"] for r in pairs} == {"duplicate"}
    assert {r["left_system"] for r in pairs} | {r["right_system"] for r in pairs} == {"crm", "books"}
    clusters = read_csv(report_dir / "clusters.csv")
    acme = {r["id"]: r for r in clusters if r["cluster"] == "1"}
    assert acme["46000001"]["has_transactions"] == "true"  # money outstanding
    assert acme["1001"]["has_transactions"] == ""  # a CRM record: not known
    assert len({r["pattern"] for r in acme.values()}) == 1  # the cluster's patterns, on each member's row
    assert "several CRM records" in acme["1001"]["pattern"]
