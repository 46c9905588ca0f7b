"""The grounding checker, on passages taken from the guide (no models needed)."""

from __future__ import annotations

import pytest

from tutor.ground import Lexicon, Verifier, no_claim

GLUE_EMR = (
    "6. Choosing Between AWS Glue and Amazon EMR\n"
    "AWS Glue: Ideal for serverless ETL tasks, data cleansing, enrichment, and data movement. "
    "Suitable when you need a managed solution without deep configuration.\n"
    "Amazon EMR: A more flexible and configurable environment for running Hadoop and Spark "
    "workloads. It provides better control over the processing environment."
)
EMR_FRAMEWORKS = (
    "Amazon EMR: Managed service for running big data frameworks like Spark, Hive, HBase, "
    "Presto, Pig, etc., for large-scale data processing."
)
DYNAMO = "Amazon DynamoDB: Fast, flexible, scalable single-digit millisecond performance NoSQL."
OTHER = [
    "Amazon Kinesis Data Streams ingests streaming data in real time.",
    "Amazon S3 stores objects in buckets with lifecycle policies.",
    "AWS Lake Formation manages permissions for the data lake.",
    "Amazon Redshift is a data warehouse with columnar storage.",
]


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    passages = [GLUE_EMR, EMR_FRAMEWORKS, DYNAMO]
    return Verifier(passages, Lexicon.from_texts(passages + OTHER), threshold=0.6)


def test_faithful_paraphrase_is_kept_and_cited(verifier):
    c = verifier.check("AWS Glue is ideal for serverless ETL tasks and data cleansing.")
    assert c.supported and c.citations == [1]


def test_swapped_services_are_caught(verifier):
    # the 135M model's real mistake: what the guide says of EMR, said of Glue
    c = verifier.check("AWS Glue is suited to running big data frameworks like Spark and Hive.")
    assert not c.supported
    assert "glue" in c.reason


def test_invented_number_is_caught(verifier):
    c = verifier.check("DynamoDB gives single-digit millisecond performance for 400 tables.")
    assert not c.supported and "400" in c.reason


def test_invented_sentence_is_caught(verifier):
    c = verifier.check("Glue jobs are billed per DPU hour with a ten minute minimum.")
    assert not c.supported


def test_flipped_negation_is_caught(verifier):
    c = verifier.check("Glue is suitable when you need a managed solution with deep configuration.")
    assert not c.supported and "negation" in c.reason


def test_wrong_model_citation_is_replaced(verifier):
    c = verifier.check("Amazon EMR runs big data frameworks like Spark and Hive. [3]")
    assert c.supported and c.citations == [2] and c.model_citations == [3]


def test_right_model_citation_is_kept(verifier):
    c = verifier.check("Amazon EMR provides better control over the processing environment [1].")
    assert c.supported and c.citations == [1]


def test_filler_is_not_shown_as_fact(verifier):
    assert not verifier.check("Great question!").supported


@pytest.mark.parametrize(
    "draft",
    [
        "The answer is: (AWS Glue is ideal for serverless ETL tasks) [1]",
        "The passage says that Amazon EMR runs Hadoop and Spark workloads.",
        "It provides better control over the processing environment.",
        "Glue: serverless ETL.",
        "What is the difference between Glue and EMR?",
    ],
)
def test_drafts_that_make_no_claim_are_refused(verifier, draft):
    assert no_claim(draft) != ""
    assert not verifier.check(draft).supported


VELOCITY = (
    "3. Velocity\n"
    "Near real-time: it represents streaming data that is processed in small individual "
    "batches. The batches are continuously collected and then processed within minutes of "
    "the data generation.\n"
    "Real time: it represents streaming data that is processed in very small individual "
    "batches."
)


def test_invented_comparison_is_caught():
    lex = Lexicon.from_texts([VELOCITY, *OTHER])
    v = Verifier([VELOCITY], lex, threshold=0.6)
    assert not v.check("Near real-time processing is faster than real-time processing.").supported
    kept = v.check("Near real-time batches are processed within minutes of the data generation.")
    assert kept.supported


def test_a_section_title_alone_does_not_support_a_sentence():
    passages = ["Representation | Multiple tables | Collection of documents"]
    lex = Lexicon.from_texts(passages + OTHER)
    v = Verifier(passages, lex, threshold=0.6, titles=["Comparing data storage methods"])
    assert not v.check("(Comparing data storage methods)").supported


def test_a_wrong_label_is_caught():
    passages = [
        "1. Volume\nVolume: the amount of data ingested, the total size of the data coming in."
    ]
    lex = Lexicon.from_texts(passages + OTHER)
    v = Verifier(passages, lex, threshold=0.6)
    assert v.check("Volume: the total size of the data coming in.").supported
    assert not v.check("Variety: the total size of the data coming in.").supported


def test_a_draft_that_asserts_and_denies_one_claim_is_refused():
    guide = "Data engineers do not control the source system but must understand how it works."
    v = Verifier([guide], Lexicon.from_texts([guide, *OTHER]), threshold=0.6)
    # the guide's own line, with its negation and a second clause that does not deny it
    assert v.check(guide).supported
    draft = (
        "A data engineer controls the source system that generates data, "
        "but they do not control the source system itself."
    )
    c = v.check(draft)
    assert not c.supported and c.reason == "asserts and denies the same claim"
