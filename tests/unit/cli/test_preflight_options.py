"""``sync-guard preflight`` refuses options it cannot honour, naming the option, before it reads anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync_guard.cli import build_app

runner = CliRunner()
APP = build_app(["preflight"])


@pytest.fixture
def exports(tmp_path: Path) -> tuple[Path, Path]:
    crm = tmp_path / "accounts.csv"
    crm.write_text("Record Id,Account Name\n5725767000000000001,Acme Ltd\n")
    books = tmp_path / "customers.csv"
    books.write_text("Contact ID,Display Name\n460000000000001,Acme Limited\n")
    return crm, books


def test_a_module_that_is_not_accounts_or_contacts_is_refused_naming_the_option(tmp_path: Path) -> None:
    result = runner.invoke(APP, ["preflight", "--module", "Leads", "--state-dir", str(tmp_path / "none")])

    assert result.exit_code == 2
    assert not isinstance(result.exception, ValueError)
    assert "--module" in result.output
    assert "'Leads' is not Accounts or Contacts" in result.output


@pytest.mark.parametrize(
    ("given", "missing"), [("--crm-export", "--books-export"), ("--books-export", "--crm-export")]
)
def test_one_export_alone_is_refused_naming_the_other(
    exports: tuple[Path, Path], tmp_path: Path, given: str, missing: str
) -> None:
    # Without the check, preflight went to Zoho's APIs instead and asked for Zoho credentials.
    export = exports[0] if given == "--crm-export" else exports[1]
    result = runner.invoke(APP, ["preflight", given, str(export), "--state-dir", str(tmp_path / "none")])

    assert result.exit_code == 2
    assert f"Invalid value for {missing}" in result.output
    assert "ZOHO" not in result.output


def test_apply_with_exports_is_refused_rather_than_ignored(exports: tuple[Path, Path]) -> None:
    crm, books = exports
    args = ["preflight", "--crm-export", str(crm), "--books-export", str(books), "--apply", "--json"]

    result = runner.invoke(APP, args)

    assert result.exit_code == 2
    assert "Invalid value for --apply" in result.output


def test_exports_without_apply_list_the_holds(exports: tuple[Path, Path]) -> None:
    crm, books = exports

    result = runner.invoke(
        APP, ["preflight", "--crm-export", str(crm), "--books-export", str(books), "--json"]
    )

    assert result.exit_code == 0, result.output
    assert '"crm": "crm:5725767000000000001"' in result.output


def test_an_export_it_cannot_read_is_an_error_naming_the_line_not_a_traceback(
    exports: tuple[Path, Path],
) -> None:
    crm, books = exports
    crm.write_text('Record Id,Account Name\n5725767000000000001,"Acme" Ltd\n')  # a stray quote
    args = ["preflight", "--crm-export", str(crm), "--books-export", str(books), "--json"]

    result = runner.invoke(APP, args)

    assert result.exit_code == 2
    assert f"error: {crm}, line 2: not valid CSV" in result.output


def test_exports_the_sync_would_pair_exactly_say_there_is_nothing_to_hold(tmp_path: Path) -> None:
    crm = tmp_path / "accounts.csv"
    crm.write_text("Record Id,Account Name\n5725767000000000001,Acme Ltd\n")
    books = tmp_path / "customers.csv"
    books.write_text("Contact ID,Display Name\n460000000000001,Acme Ltd\n")

    result = runner.invoke(APP, ["preflight", "--crm-export", str(crm), "--books-export", str(books)])

    # then no empty table, and no advice to clean up what needs none
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console folds lines at its width
    assert "0 to hold (dry run); 1 pair exactly" in said
    assert "Nothing to hold back." in said
    assert "Rename to pair them" not in result.output
    assert "Clean first" not in result.output
