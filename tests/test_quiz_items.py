"""Item generation on a small synthetic guide (fake embedder: logic only, no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import FakeEmbedder

from tutor.config import Settings
from tutor.errors import IndexCorrupt, IndexStale
from tutor.index import build_index
from tutor.quiz import items as items_mod
from tutor.quiz.check import gates, option_problems
from tutor.quiz.items import (
    LETTERS,
    Item,
    Support,
    bank_by_id,
    build_bank,
    claim,
    domain_task,
    load_bank,
)

GUIDE = """# AWS Data Engineer - Associate (DEA-C01)

# 5 Vs of Big Data

## 1. Volume

- **Structured**: organised in table, with schema and is easy to be analysed.
- **Semistructured**: stored as documents or key-value pairs.
- **Unstructured**: stored as files such as videos and images.
- **Streaming**: continuously arriving records from many producers.

## Domain 1: Data Ingestion and Transformation

## 1.1 Performing Data Ingestion

### 4. AWS Services for Data Ingestion

- **Amazon AppFlow:** For ingesting data from SaaS services to S3 or Redshift.
- **AWS Transfer Family:** For ingesting data using FTP/SFTP protocols.
- **AWS DataSync:** For ingesting data from on-premises storage.
- **Amazon Kinesis:** For real-time ingestion and processing.

### 5. Data Stores

- **Amazon Redshift**: Data warehouse with columnar indexing.
- **Amazon Neptune**: High availability, scalable, serverless graph database.
- **Amazon Timestream**: Fast, scalable, and serverless time-series database.
- **Amazon DynamoDB**: Fast, flexible, and highly scalable NoSQL database.

### 6. Data Quality

- **Amazon EMR:** Amazon EMR helps you overcome data quality and integrity challenges.
- **AWS Glue:** AWS Glue helps you overcome data quality and integrity challenges.
- **Amazon Athena:** Amazon Athena runs interactive SQL queries on data in Amazon S3.
- **Amazon QuickSight:** Amazon QuickSight builds interactive dashboards for reports.

## 1.2 Transforming and Processing Ingested Data

### 7. Monitoring and Notifications

- **Monitoring:** Use Amazon CloudWatch to monitor pipeline health and detect failures.
- **Notifications:** Use Amazon SNS to send alerts for pipeline failures or issues.
- **Backups:** Use AWS Backup to keep copies of pipeline data in another Region.
- **Tracing:** Use AWS X-Ray to trace requests through a distributed application.
"""


def _build(root: Path, guide: str) -> Settings:
    (root / "corpus").mkdir(parents=True, exist_ok=True)
    (root / "corpus" / "guide.md").write_text(guide, encoding="utf-8")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    build_index(settings, FakeEmbedder())
    return settings


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    settings = _build(tmp_path_factory.mktemp("quiz"), GUIDE)
    from tutor.index import load_index

    index = load_index(settings)
    return settings, index, load_bank(settings.index_dir)


def _line(text: str) -> int:
    return GUIDE.splitlines().index(text) + 1


def _key(item: Item) -> str:
    return item.options[LETTERS.index(item.answer)]


def test_term_item_from_a_labelled_line(small) -> None:
    _, _, bank = small
    stem = "Which AWS service does the guide describe as “Data warehouse with columnar indexing”?"
    (item,) = [it for it in bank if it.stem == stem]
    assert item.kind == "term"
    assert _key(item) == "Amazon Redshift"
    assert item.explanation == "Amazon Redshift: Data warehouse with columnar indexing."
    line = _line("- **Amazon Redshift**: Data warehouse with columnar indexing.")
    assert (item.citation.start_line, item.citation.end_line) == (line, line)
    assert item.citation.section_path.endswith("1.1 Performing Data Ingestion › 5. Data Stores")
    assert (item.domain, item.task) == (1, "1.1")
    # the distractors are the sibling data stores: services, all different
    assert set(item.options) == {
        "Amazon Redshift",
        "Amazon Neptune",
        "Amazon Timestream",
        "Amazon DynamoDB",
    }


def test_reverse_item_offers_sibling_descriptions(small) -> None:
    _, _, bank = small
    (item,) = [
        it
        for it in bank
        if it.kind == "describe"
        and it.stem == "What does Amazon Neptune do, according to the guide?"
    ]
    assert _key(item) == "High availability, scalable, serverless graph database."
    assert all(o.endswith(".") for o in item.options) and len(set(item.options)) == 4
    assert "Neptune" not in " ".join(item.options)


def test_scenario_items_from_the_guides_pairings(small) -> None:
    _, _, bank = small
    by_stem = {it.stem: it for it in bank if it.kind == "scenario"}
    sftp = by_stem[
        "A data engineer needs a service for ingesting data using FTP/SFTP protocols. "
        "Which AWS service fits?"
    ]
    assert _key(sftp) == "AWS Transfer Family"
    watch = by_stem[
        "Which AWS service should you use to monitor pipeline health and detect failures?"
    ]
    assert _key(watch) == "Amazon CloudWatch"
    assert claim(watch, "AWS Backup").startswith("Use AWS Backup to monitor")


def test_a_distractor_never_fits_the_stem(small) -> None:
    """EMR and Glue say the same thing: neither may be offered as wrong for the other."""
    _, index, bank = small
    support = Support(index)
    quality = [it for it in bank if "overcome data quality" in it.stem]
    assert quality, "the data-quality lines gave no item"
    for it in quality:
        key = _key(it)
        twin = "AWS Glue" if key == "Amazon EMR" else "Amazon EMR"
        assert twin not in it.options
        for option in it.options:
            assert support.holds(claim(it, option)) == (option == key)


def test_true_false_false_versions_are_unsupported(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(items_mod, "TF_EVERY", 1)  # every fact gives a true/false item
    settings = _build(tmp_path, GUIDE)
    from tutor.index import load_index

    index = load_index(settings)
    bank = build_bank(index)
    support = Support(index)
    tf = [it for it in bank if it.kind == "truefalse"]
    assert {it.answer for it in tf} == {"A", "B"}
    for it in tf:
        assert it.options == ("True", "False")
        assert support.holds(it.statement) == (it.answer == "A"), it.stem
        assert it.stem == f"True or false? {it.statement}"


def test_bank_is_deterministic_and_ids_survive_an_edit_elsewhere(small, tmp_path: Path) -> None:
    _, index, bank = small
    again = build_bank(index)
    assert [it.to_json() for it in again] == [it.to_json() for it in bank]
    edited = GUIDE.replace(
        "- **Amazon Kinesis:** For real-time ingestion and processing.",
        "- **Amazon Kinesis:** For real-time ingestion and processing of streams.",
    )
    settings = _build(tmp_path, edited)
    other = load_bank(settings.index_dir)
    kinesis = {it.id for it in bank if "Kinesis" in it.explanation}
    unchanged = {it.id for it in bank if "Kinesis" not in it.explanation and it.kind == "term"}
    assert kinesis and not kinesis & {it.id for it in other}
    assert unchanged <= {it.id for it in other}


def test_every_item_is_well_formed(small) -> None:
    _, _, bank = small
    assert bank and option_problems(bank) == []
    assert len(bank_by_id(bank)) == len(bank)
    for it in bank:
        assert Item.from_json(json.loads(json.dumps(it.to_json()))) == it
        assert it.explanation and it.explanation in GUIDE.replace("**", "").replace("- ", "")
        assert GUIDE.splitlines()[it.citation.start_line - 1].strip()
    # the key never appears in its own stem
    for it in bank:
        if it.kind in ("term", "scenario"):
            assert _key(it).lower() not in it.stem.lower()


def test_domain_and_task_come_from_the_headings() -> None:
    assert domain_task(("5 Vs of Big Data", "1. Volume")) == (0, "")
    assert domain_task(("Domain 2: Data Store Management", "2.3 Managing")) == (2, "2.3")
    assert domain_task(("Domain 4: Security", "Tokenisation")) == (4, "")


def test_load_bank_refuses_a_damaged_or_missing_bank(small, tmp_path: Path) -> None:
    settings, _, _ = small
    copy = tmp_path / "index"
    import shutil

    shutil.copytree(settings.index_dir, copy)
    bank_file = copy / "quiz.jsonl"
    bank_file.write_text(bank_file.read_text(encoding="utf-8")[:-200], encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="tutor index --rebuild"):
        load_bank(copy)
    bank_file.unlink()
    with pytest.raises(IndexCorrupt, match="missing"):
        load_bank(copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    del manifest["quiz"]
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexStale, match="no quiz item bank"):
        load_bank(copy)


def test_gates_name_each_failure() -> None:
    report = {
        "items": 120,
        "by_task": {"1.1": 9},
        "key_supported_rate": 0.99,
        "distractor_leak_rate": 0.05,
        "duplicate_stems": 2,
        "solver_accuracy": 0.8,
        "blind_accuracy": 0.4,
    }
    failed = " | ".join(gates(report))
    for words in (
        "120 items",
        "task(s) 1.2",
        "key supported",
        "leak",
        "near-duplicate",
        "solver",
        "blind",
    ):
        assert words in failed
