"""Generated test data: the seed's name variants with hard negatives, and synthetic Zoho exports.

    .venv/bin/python benchmarks/gen_variants.py --exports 10000 --out /tmp/exports   # CSVs for match-report

Base names are invented words built from syllables and checked against the normaliser's own tables
(legal forms, word lists, abbreviations), so the matcher cannot pass by recognising them. Variants are
the ones the seed describes (Ltd/Limited, ``&``/and, a leading or trailing "The", trailing spaces,
case) plus typing slips. Hard negatives are other companies whose names differ by one word
("North"/"South"), by a first letter ("Ramesh"/"Ganesh"), or by an extra word ("Acme"/"Acme
Logistics", which must not be called a duplicate).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from sync_guard.matching.tables import tables, tokenise  # noqa: E402
from sync_guard.models.records import Module, PartyRecord, System  # noqa: E402

_ONSETS = ["b", "br", "c", "cl", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pr",
           "qu", "r", "s", "st", "t", "tr", "v", "w", "z", "th", "sh", "ch"]  # fmt: skip
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "y"]
_CODAS = ["", "n", "r", "l", "s", "t", "m", "nd", "rk", "st", "x", "ck", "ll", "ng"]

# (with "&", with "and") word pairs and legal forms in their written variants, as the seed lists them.
_FORMS = [
    ("Ltd", "Limited", "Ltd."),
    ("PLC", "plc", "P.L.C."),
    ("LLP", "L.L.P.", "Llp"),
    ("Inc", "Inc.", "Incorporated"),
]


def _reserved() -> frozenset[str]:
    table = tables()
    words: set[str] = set(table.articles | table.connectors | table.generic)
    words.update(table.abbreviations)
    words.update(table.abbreviations.values())
    for variant in table.legal_forms:
        words.update(variant)
    return frozenset(words)


class NameMaker:
    """Invented words, never one of the normaliser's table words, never repeated."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.reserved = _reserved()
        self.used: set[str] = set()

    def word(self, syllables: int | None = None) -> str:
        while True:
            count = syllables or self.rng.choice([2, 2, 2, 3])
            word = "".join(
                self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) + self.rng.choice(_CODAS)
                for _ in range(count)
            )
            if 4 <= len(word) <= 11 and word not in self.reserved and word not in self.used:
                self.used.add(word)
                return word.capitalize()

    def name(self) -> list[str]:
        return [self.word() for _ in range(self.rng.choice([1, 2, 2, 3]))]


def typo(word: str, rng: random.Random) -> str:
    """One typing slip: two letters swapped, a letter doubled, dropped or mistyped (not the first)."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["swap", "double", "drop", "substitute"])
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "double":
        return word[: i + 1] + word[i] + word[i + 1 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    letter = rng.choice([c for c in "aeiourstnl" if c != word[i].lower()])
    return word[:i] + letter + word[i + 1 :]


def variant(words: list[str], form: tuple[str, ...], rng: random.Random, *, and_word: bool) -> str:
    """One way a person might type the company's name."""
    parts = list(words)
    if and_word and len(parts) >= 2:
        parts.insert(1, rng.choice(["&", "and", "And", "AND"]))
    change = rng.choice(["form", "the", "the_end", "space", "case", "typo", "form", "typo"])
    suffix = rng.choice(form)
    if change == "typo":
        long_words = [i for i, w in enumerate(parts) if len(w) >= 5 and w.isalpha()]
        if long_words:
            i = rng.choice(long_words)
            parts[i] = typo(parts[i], rng)
    text = " ".join(parts)
    if change == "the":
        text = "The " + text
    if change == "the_end":
        text = text + ", The"
    text = f"{text} {suffix}"
    if change == "space":
        text = text + rng.choice(["  ", " ", "   "])
    if change == "case":
        text = rng.choice([text.upper(), text.lower(), text.title()])
    return text


def generate_labelled(seed: int = 1, entities: int = 600) -> tuple[list[PartyRecord], dict[str, str]]:
    """Records and their true entity: 2-4 variants per company, plus hard-negative sibling companies."""
    rng = random.Random(seed)
    maker = NameMaker(rng)
    records: list[PartyRecord] = []
    labels: dict[str, str] = {}

    def add(entity: str, text: str) -> None:
        record = PartyRecord(
            system=rng.choice([System.CRM, System.BOOKS]),
            module=Module.CRM_ACCOUNTS,
            record_id=f"v{len(records)}",
            name=text,
        )
        records.append(record)
        labels[record.ref] = entity

    for e in range(entities):
        words = maker.name()
        form = rng.choice(_FORMS)
        and_word = len(words) >= 2 and rng.random() < 0.3
        entity = f"e{e}"
        add(entity, " ".join([*words[:1], *(["&"] if and_word else []), *words[1:], form[0]]))
        for _ in range(rng.choice([1, 2, 3])):
            add(entity, variant(words, form, rng, and_word=and_word))
        # Hard negatives: a sibling company whose name differs in a way that matters.
        kind = rng.choice(["swap_word", "first_letter", "extra_word", "none"])
        sibling = list(words)
        if kind == "swap_word":
            sibling[rng.randrange(len(sibling))] = maker.word(2)
        elif kind == "first_letter":
            i = rng.randrange(len(sibling))
            first = rng.choice([c for c in "BDGHKLMPRSTW" if c != sibling[i][0]])
            sibling[i] = first + sibling[i][1:]
        elif kind == "extra_word":
            sibling.append(maker.word(2))
        if kind != "none":
            sibling_entity = f"e{e}-{kind}"
            add(sibling_entity, " ".join([*sibling, form[0]]))
            if rng.random() < 0.5:
                add(sibling_entity, variant(sibling, form, rng, and_word=False))
    return records, labels


def _phone(rng: random.Random) -> str:
    return f"020 7{rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"


def _company(maker: NameMaker, rng: random.Random, cities: list[str]) -> dict[str, str]:
    words = maker.name()
    form = rng.choice(_FORMS)
    domain = f"{''.join(words).lower()[:20]}.co.uk"
    area = rng.choice("BCELMNSW") + rng.choice("ACEHNRSW")
    return {
        "words": " ".join(words),
        "form": "|".join(form),
        "name": " ".join([*words, form[0]]),
        "domain": domain,
        "phone": _phone(rng),
        "street": f"{rng.randrange(1, 300)} {maker.word(2)} Road",
        "city": rng.choice(cities),
        "postcode": f"{area}{rng.randrange(1, 20)} {rng.randrange(1, 9)}AA",
    }


def _created(rng: random.Random) -> str:
    return f"20{rng.randrange(15, 26)}-0{rng.randrange(1, 10)}-{rng.randrange(10, 28)} 10:00"


def _books_row(company: dict[str, str], number: int, rng: random.Random, crm_id: str) -> dict[str, str]:
    name = variant(company["words"].split(), tuple(company["form"].split("|")), rng, and_word=False)
    return {
        "Contact ID": f"{460000000000000 + number}",
        "Display Name": name.strip(),
        "Company Name": "",
        "EmailID": f"accounts@{company['domain']}" if rng.random() < 0.6 else "",
        "Phone": company["phone"] if rng.random() < 0.8 else "",
        "Billing Address": company["street"],
        "Billing City": company["city"],
        "Billing Code": company["postcode"],
        "Billing Country": "United Kingdom",
        "Status": "Active",
        "Outstanding Receivable Amount": f"{rng.choice([0, 0, 0, 120.5, 990])}",
        "CRM Account ID": crm_id if crm_id and rng.random() < 0.5 else "",
    }


@dataclass(frozen=True)
class Exports:
    """Synthetic exports, and which company each row was made from (the truth the match is scored on)."""

    crm_rows: list[dict[str, str]]
    books_rows: list[dict[str, str]]
    # "crm:<Record Id>" / "books:<Contact ID>" -> the number of the company the row was made from
    companies: dict[str, int]

    def true_pairs(self) -> set[tuple[str, str]]:
        """Every two rows made from the same company, each pair ordered."""
        members: dict[int, list[str]] = {}
        for ref, company in self.companies.items():
            members.setdefault(company, []).append(ref)
        return {(min(a, b), max(a, b)) for refs in members.values() for a, b in combinations(refs, 2)}


def export_rows(count: int, seed: int) -> Exports:
    """``count`` CRM accounts and ``count`` Books customers, Zoho export headers.

    85% of accounts have a Books copy carrying the seed's drift (Ltd/Limited, case, "The", typos), 6% of
    those copies have a second Books copy (a duplicate), and Books-only customers fill the rest.
    """
    rng = random.Random(seed)
    maker = NameMaker(rng)
    cities = [maker.word(2) for _ in range(200)]
    crm_rows: list[dict[str, str]] = []
    books_rows: list[dict[str, str]] = []
    companies: dict[str, int] = {}

    def add_books(company: dict[str, str], number: int, crm_id: str) -> None:
        row = _books_row(company, len(books_rows), rng, crm_id)
        books_rows.append(row)
        companies[f"books:{row['Contact ID']}"] = number

    for i in range(count):
        company = _company(maker, rng, cities)
        crm_id = f"zcrm_{5725767000000000000 + i}"
        crm_rows.append(
            {
                "Record Id": crm_id,
                "Account Name": company["name"],
                "Phone": company["phone"] if rng.random() < 0.7 else "",
                "Website": f"www.{company['domain']}" if rng.random() < 0.5 else "",
                "Billing Street": company["street"],
                "Billing City": company["city"],
                "Billing Code": company["postcode"],
                "Billing Country": "United Kingdom",
                "Created Time": _created(rng),
            }
        )
        companies[f"crm:{crm_id}"] = i
        if rng.random() < 0.85 and len(books_rows) < count:
            add_books(company, i, crm_id)
            if rng.random() < 0.06 and len(books_rows) < count:
                add_books(company, i, "")
    while len(books_rows) < count:
        add_books(_company(maker, rng, cities), count + len(books_rows), "")
    return Exports(crm_rows, books_rows, companies)


TRUTH_FILE = "truth.csv"


def write_exports(count: int, out: Path, seed: int = 7) -> tuple[Path, Path]:
    """Write ``accounts.csv`` (CRM), ``customers.csv`` (Books) and ``truth.csv``, ``count`` rows each.

    ``truth.csv`` (``ref,company``: ``crm:<Record Id>`` or ``books:<Contact ID>``, and the number of
    the company the row was made from) is not an export: :func:`read_true_pairs` reads it back.
    """
    out.mkdir(parents=True, exist_ok=True)
    exports = export_rows(count, seed)
    paths = []
    for name, rows in (("accounts.csv", exports.crm_rows), ("customers.csv", exports.books_rows)):
        path = out / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        paths.append(path)
    with (out / TRUTH_FILE).open("w", newline="", encoding="utf-8") as handle:
        truth = csv.writer(handle)
        truth.writerow(["ref", "company"])
        truth.writerows(exports.companies.items())
    return paths[0], paths[1]


def read_true_pairs(folder: Path) -> set[tuple[str, str]]:
    """The pairs of rows made from the same company, from a folder :func:`write_exports` wrote."""
    with (folder / TRUTH_FILE).open(newline="", encoding="utf-8") as handle:
        companies = {row["ref"]: int(row["company"]) for row in csv.DictReader(handle)}
    return Exports([], [], companies).true_pairs()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--exports", type=int, default=0, help="write synthetic exports of this many accounts"
    )
    parser.add_argument("--out", type=Path, default=Path("exports"), help="folder for the exports")
    parser.add_argument("--show", type=int, default=0, help="print this many labelled variant records")
    args = parser.parse_args(argv)
    if args.exports:
        crm, books = write_exports(args.exports, args.out)
        print(f"wrote {crm} and {books}")
    if args.show:
        records, labels = generate_labelled()
        for record in records[: args.show]:
            print(f"{labels[record.ref]:<22} {record.name!r}  {tokenise(record.name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
