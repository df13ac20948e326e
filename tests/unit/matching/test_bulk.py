"""The bulk path gives what the record-by-record path gives, with one worker or several."""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from importlib import import_module
from pathlib import Path

import msgspec
import pytest

from sync_guard.exports.report import output
from sync_guard.exports.report.build import build_report
from sync_guard.exports.report.csv_files import clusters_csv, pairs_csv
from sync_guard.exports.report.model import MatchReport, ReportPair
from sync_guard.exports.report.summary import summary_md
from sync_guard.exports.report.ticket import support_ticket_md
from sync_guard.matching import (
    CandidateIndex,
    Verdict,
    bulk,
    extract_features,
    keys_from_features,
    score_pair,
)
from sync_guard.matching.bulk import (
    CandidateSearch,
    candidate_pairs,
    dumps_features,
    loads_features,
    normalise_records,
    normalising_ahead,
    score_candidates,
)
from sync_guard.matching.compare import score_unless_distinct
from sync_guard.matching.features import RecordFeatures
from sync_guard.models.records import Module, PartyRecord, RecordKind, System

# The module, not the function of the same name that the package exports.
compare_module = import_module("sync_guard.matching.compare")

needs_fork = pytest.mark.skipif(not bulk.can_fork(), reason="the parallel path needs fork")

_WORDS = ["acme", "north", "south", "widgets", "harbour", "lumen", "brightwater", "ramesh", "ganesh",
          "traders", "design", "lab", "fairbourne", "engineering", "koninklijke", "philips"]  # fmt: skip
_FORMS = ["Ltd", "Limited", "LTD.", "plc", "Inc", "GmbH", ""]


def _records(count: int, seed: int = 5) -> tuple[list[PartyRecord], list[PartyRecord]]:
    """CRM accounts and Books customers with shared names, phones, emails and streets, and slips."""
    rng = random.Random(seed)
    crm: list[PartyRecord] = []
    books: list[PartyRecord] = []
    for i in range(count):
        words = rng.sample(_WORDS, rng.choice([1, 2, 2, 3]))
        if rng.random() < 0.2:
            j = rng.randrange(len(words))
            w = words[j]
            words[j] = w[:2] + w[3:] if len(w) > 6 else w  # a dropped letter
        name = " ".join(w.capitalize() for w in words) + " " + rng.choice(_FORMS)
        phone = f"020 7{rng.randrange(100, 130)} {rng.randrange(1000, 1010)}" if rng.random() < 0.7 else None
        email = f"info@{words[0]}.co.uk" if rng.random() < 0.4 else None
        street = (
            f"{rng.randrange(1, 6)} {rng.choice(_WORDS).capitalize()} Road" if rng.random() < 0.6 else None
        )
        person = rng.random() < 0.1
        fields: dict[str, object] = {
            "name": name.upper() if rng.random() < 0.2 else name,
            "phone": phone,
            "email": email,
            "street": street,
            "city": rng.choice(["London", "Leeds", None]),
            "postcode": rng.choice(["SW1A 1AA", "LS1 4AP", None]),
            "kind": RecordKind.PERSON if person else RecordKind.COMPANY,
        }
        if rng.random() < 0.5:
            crm.append(
                PartyRecord(system=System.CRM, module=Module.CRM_ACCOUNTS, record_id=f"c{i}", **fields)
            )
        else:
            linked = rng.choice(crm).record_id if crm and rng.random() < 0.3 else None
            books.append(
                PartyRecord(
                    system=System.BOOKS,
                    module=Module.BOOKS_CUSTOMERS,
                    record_id=f"b{i}",
                    linked_crm_id=linked,
                    has_transactions=rng.random() < 0.3,
                    **fields,
                )
            )
    return crm, books


def test_candidates_are_the_index_candidates_in_the_same_order() -> None:
    rng = random.Random(11)
    keys = [
        tuple(dict.fromkeys(f"k{rng.randrange(40)}" for _ in range(rng.randrange(1, 4)))) for _ in range(600)
    ]
    candidates = candidate_pairs(keys, max_postings=7)
    index = CandidateIndex(max_postings=7)
    expected: list[tuple[int, int]] = []
    for position, record_keys in enumerate(keys):
        expected.extend((earlier, position) for earlier in index.candidate_positions(record_keys))
        record = PartyRecord(system=System.CRM, module=Module.CRM_ACCOUNTS, record_id=str(position))
        index.add(record, features=extract_features(record), keys=record_keys)
    assert list(zip(candidates.earlier, candidates.later, strict=True)) == expected
    assert candidates.saturated_keys == index.saturated_keys
    assert candidates.saturated_keys  # the cap was reached, so saturation was exercised


def test_a_search_fed_in_batches_finds_what_one_pass_finds() -> None:
    rng = random.Random(12)
    keys = [(f"k{rng.randrange(30)}", f"j{rng.randrange(30)}") for _ in range(500)]
    whole = candidate_pairs(keys, max_postings=9)
    search = CandidateSearch(max_postings=9)
    for start in range(0, len(keys), 37):
        search.extend(keys[start : start + 37])
    batched = search.result()
    assert (batched.earlier, batched.later, batched.saturated_keys) == (
        whole.earlier,
        whole.later,
        whole.saturated_keys,
    )


def test_features_and_keys_survive_the_compact_form() -> None:
    crm, books = _records(300)
    features = [extract_features(r) for r in [*crm, *books]]
    keys = [keys_from_features(f) for f in features]
    assert any(f.company and f.company.legal_forms for f in features)
    assert any(f.street for f in features)
    assert loads_features(dumps_features(features, keys)) == (features, keys)


def test_read_back_features_share_one_object_per_legal_form() -> None:
    crm, books = _records(50)
    features, _ = loads_features(dumps_features([extract_features(r) for r in [*crm, *books]], []))
    forms = [hit.form for f in features if f.company for hit in f.company.legal_forms]
    assert len(forms) > len(set(forms)) > 1
    assert len({id(form) for form in forms}) == len(set(forms))


def test_every_field_survives_the_compact_form() -> None:
    person = PartyRecord(
        system=System.CRM,
        record_id="c1",
        module=Module.CRM_CONTACTS,
        kind=RecordKind.PERSON,
        name="DUPLICATE - The Koninklijke Acme (UK) Ltd, Rotterdam (USD) t/a Acme Widgets",
        other_names=("Acme Holdings Ltd",),
        first_name="Jane",
        last_name="Smith",
        email="Jane@Acme.example",
        other_emails=("jane.smith@acme-holdings.example",),
        phone="+44 20 7946 0000",
        street="12-14 High Street, Unit 4",
        city="London",
        postcode="sw1a 1aa",
        country="GB",
        website="https://www.acme.example/about",
        vat="GB 123 4567 89",
        date_of_birth="1980-02-29",
        currency="GBP",
    )
    features = extract_features(person)
    # Each field is set, so that one left out of the compact form would be missed.
    assert all(
        getattr(features, f.name) not in (None, (), frozenset())
        for f in msgspec.structs.fields(RecordFeatures)
    )
    company = features.company
    assert company is not None
    assert company.tail
    assert company.legal_forms
    assert company.dropped_honorific
    assert company.dropped_mark
    assert company.currency == "USD"
    assert features.street is not None
    assert features.street.number
    assert features.street.name_words
    assert [(o.name.raw, o.trading) for o in features.other_names] == [
        ("Acme Widgets", True),
        ("Acme Holdings Ltd", False),
    ]
    assert loads_features(dumps_features([features], [("k",)])) == ([features], [("k",)])


@needs_fork
def test_normalising_in_workers_gives_the_same_features_and_keys() -> None:
    crm, books = _records(400)
    records = [*crm, *books]
    serial = normalise_records(records, "GB", workers=1)
    parallel = normalise_records(records, "GB", workers=2, min_parallel=1)
    assert parallel == serial
    assert serial[1] == [keys_from_features(extract_features(r)) for r in records]


@needs_fork
def test_workers_normalise_ahead_before_any_slice_is_asked_for() -> None:
    # The match report reads the Books export meanwhile: 1.4 s at 100k x 100k that a CPU sat idle.
    crm, books = _records(400)
    records = [*crm, *books]
    serial = normalise_records(records, "GB", workers=1)
    features: list[RecordFeatures] = []
    keys: list[tuple[str, ...]] = []
    with normalising_ahead(records, "GB", workers=2, min_parallel=1) as slices:
        turns = bulk._TURNS
        assert turns is not None
        first = turns.done.get(timeout=60)  # a worker's slice, done while this process asked for none
        turns.done.put(first)
        for more_features, more_keys in slices:
            features.extend(more_features)
            keys.extend(more_keys)
    assert (features, keys) == serial
    assert bulk._TURNS is None  # its workers are stopped


@needs_fork
def test_leaving_before_the_slices_are_read_stops_the_workers() -> None:
    crm, books = _records(200)
    workers: list[multiprocessing.process.BaseProcess] = []

    def read_books_and_fail() -> None:
        with normalising_ahead([*crm, *books], "GB", workers=2, min_parallel=1):
            workers.extend(multiprocessing.active_children())
            raise RuntimeError("the Books export could not be read")

    with pytest.raises(RuntimeError, match="the Books export could not be read"):
        read_books_and_fail()
    assert workers
    assert bulk._TURNS is None
    assert not any(worker.is_alive() for worker in workers)


@needs_fork
def test_scoring_in_workers_gives_the_serial_pairs() -> None:
    crm, books = _records(400)
    features, keys = normalise_records([*crm, *books], "GB", workers=1)
    candidates = candidate_pairs(keys)
    serial = score_candidates(features, candidates, workers=1)
    progress: list[tuple[int, int]] = []
    parallel = score_candidates(
        features, candidates, workers=2, min_parallel=1, on_progress=lambda d, t: progress.append((d, t))
    )
    assert serial  # the records do hold duplicates
    assert parallel == serial
    assert progress[-1] == (len(candidates), len(candidates))
    # And each is what scoring the pair on its own gives.
    for k, result, relation in serial[:50]:
        assert score_pair(features[candidates.earlier[k]], features[candidates.later[k]]) == (
            result,
            relation,
        )


def _fails_there(bounds: tuple[int, int]) -> None:
    raise RuntimeError(f"worker failed on {bounds}")


def _once_two_slices_are_taken() -> None:
    """Hold the slice just taken until another process has taken the second, so that neither this
    process nor a worker can take both (polling a shared counter: no ordering by sleeping). A process
    that never takes one fails the test instead of hanging it."""
    turns = bulk._TURNS
    assert turns is not None
    deadline = time.monotonic() + 60
    while turns.claimed.value < 2:
        assert time.monotonic() < deadline, "no other process took a slice within 60 s"
        time.sleep(0.001)


def _here_once_a_worker_took_a_slice(bounds: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    """This process's share, done only once a worker has taken a slice too (so both take part)."""
    _once_two_slices_are_taken()
    return "here", bounds


def _there_once_this_process_took_a_slice(bounds: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    """A worker's share, done only once another has taken a slice too: a worker that starts first and
    runs fast cannot take both slices before this process takes its own."""
    _once_two_slices_are_taken()
    return "there", bounds


@needs_fork
def test_slices_come_back_in_order_whoever_did_them() -> None:
    bounds = bulk._slices(1000, 2)
    done = list(
        bulk._in_turns(
            bounds, 2, None, _here_once_a_worker_took_a_slice, _there_once_this_process_took_a_slice, tuple
        )
    )
    assert [b for _, b in done] == bounds
    assert {who for who, _ in done} == {"here", "there"}


@needs_fork
def test_a_failing_worker_raises_here_instead_of_leaving_this_process_waiting() -> None:
    bounds = bulk._slices(1000, 2)
    with pytest.raises(RuntimeError, match="worker failed on"):
        list(bulk._in_turns(bounds, 2, None, _here_once_a_worker_took_a_slice, _fails_there, tuple))


@needs_fork
def test_the_report_is_the_same_with_one_worker_or_two(monkeypatch: pytest.MonkeyPatch) -> None:
    crm, books = _records(500)
    serial = build_report(crm, books, workers=1)
    monkeypatch.setattr(bulk, "MIN_PARALLEL_RECORDS", 1)
    monkeypatch.setattr(bulk, "MIN_PARALLEL_COMPARISONS", 1)
    stages: set[str] = set()
    parallel = build_report(crm, books, workers=2, on_progress=lambda stage, _d, _t: stages.add(stage))
    with normalising_ahead(crm, "GB", workers=2) as crm_normalised:
        ahead = build_report(crm, books, workers=2, crm_normalised=crm_normalised)
    assert stages == {"normalising", "comparing"}
    assert pairs_csv(ahead) == pairs_csv(serial)
    assert clusters_csv(ahead) == clusters_csv(serial)
    assert serial.duplicates
    assert serial.clusters
    assert pairs_csv(parallel) == pairs_csv(serial)
    assert clusters_csv(parallel) == clusters_csv(serial)
    assert parallel.comparisons == serial.comparisons
    assert summary_md(parallel).split("\n", 3)[3] == summary_md(serial).split("\n", 3)[3]


@pytest.fixture
def small_report() -> MatchReport:
    crm, books = _records(300)
    return build_report(crm, books, workers=1)


@needs_fork
def test_pairs_written_by_a_forked_process_are_the_same_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, small_report: MatchReport
) -> None:
    output.write_report(small_report, tmp_path / "here")
    monkeypatch.setattr(output, "MIN_FORKED_PAIRS", 1)
    forked = os.getpid()
    output.write_report(small_report, tmp_path / "forked")
    assert os.getpid() == forked  # the forked process ended on its own
    for name in ("pairs.csv", "clusters.csv", "support-ticket.md"):
        assert (tmp_path / "forked" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()
    # The summary says when it was generated: the rest must agree.
    summaries = [
        (tmp_path / side / "summary.md").read_text().split("\n", 3)[3] for side in ("forked", "here")
    ]
    assert summaries[0] == summaries[1]


def test_the_summary_and_the_ticket_work_out_each_pairs_pattern_once(
    monkeypatch: pytest.MonkeyPatch, small_report: MatchReport
) -> None:
    # 0.4 s of the main process's writing at 100k x 100k went on working the patterns out again.
    asked: list[ReportPair] = []
    pattern_of = MatchReport.pattern_of

    def counted(self: MatchReport, pair: ReportPair) -> str:
        asked.append(pair)
        return pattern_of(self, pair)

    monkeypatch.setattr(MatchReport, "pattern_of", counted)
    summary = summary_md(small_report)
    ticket = support_ticket_md(small_report, crm_org=None, books_org=None)
    assert "Pattern: " in ticket
    assert "| **all** |" in summary
    assert small_report.duplicates
    assert len(asked) == len(small_report.pairs)


@needs_fork
def test_a_forked_writer_that_fails_leaves_nothing_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, small_report: MatchReport
) -> None:
    def broken(_: object) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(output, "MIN_FORKED_PAIRS", 1)
    monkeypatch.setattr(output, "pairs_csv", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        output.write_report(small_report, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_the_screen_drops_only_distinct_pairs_and_skips_their_names(monkeypatch: pytest.MonkeyPatch) -> None:
    crm, books = _records(400)
    features, keys = normalise_records([*crm, *books], "GB", workers=1)
    candidates = candidate_pairs(keys)
    pairs = [(features[candidates.earlier[k]], features[candidates.later[k]]) for k in range(len(candidates))]
    full = [score_pair(a, b) for a, b in pairs]
    compared: list[object] = []
    real_compare_names = compare_module._compare_names
    monkeypatch.setattr(
        compare_module, "_compare_names", lambda *args: compared.append(args) or real_compare_names(*args)
    )

    screened = [score_unless_distinct(a, b) for a, b in pairs]

    assert screened == [None if s[0].verdict is Verdict.DISTINCT else s for s in full]
    distinct = sum(s[0].verdict is Verdict.DISTINCT for s in full)
    assert 0 < len(pairs) - len(compared) <= distinct  # some distinct pairs were settled without names
