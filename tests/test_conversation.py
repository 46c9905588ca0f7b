from __future__ import annotations

from tutor.conversation import Turn, is_followup, standalone_query
from tutor.ground import Lexicon

LEX = Lexicon.from_texts(
    [
        "AWS Glue is a serverless ETL service.",
        "Amazon EMR runs Spark.",
        "Amazon Kinesis Data Streams ingests data.",
        "Data skew makes partitions uneven.",
    ]
)


def test_pronoun_follow_up_takes_the_previous_subject():
    h = [Turn("When should I use AWS Glue?", "When should I use AWS Glue?")]
    assert standalone_query("and how is it billed?", h, LEX) == "How is AWS Glue billed?"


def test_follow_up_without_pronoun_gets_the_subject_appended():
    h = [Turn("What is Amazon EMR?", "What is Amazon EMR?")]
    assert standalone_query("what about pricing?", h, LEX) == "Pricing (Amazon EMR)?"


def test_subject_falls_back_to_content_words():
    h = [Turn("What is data skew?", "What is data skew?")]
    assert standalone_query("How do I fix it?", h, LEX) == "How do I fix data skew?"


def test_standalone_questions_are_left_alone():
    h = [Turn("What is AWS Glue?", "What is AWS Glue?")]
    q = "What does Amazon Kinesis Data Streams do?"
    assert not is_followup(q, LEX)
    assert standalone_query(q, h, LEX) == q
    assert standalone_query("and how is it billed?", [], LEX) == "and how is it billed?"


def test_a_service_name_runs_on_through_its_capitalised_words():
    # "functions" is mostly written lower-case, so it is no name of its own
    lex = Lexicon.from_texts(
        ["AWS Step Functions runs state machines.", "Lambda functions run code.", "functions"]
    )
    h = [Turn("What does AWS Step Functions do?", "What does AWS Step Functions do?")]
    got = standalone_query("and when would i pick it over the managed airflow thing?", h, lex)
    assert got == "When would i pick AWS Step Functions over the managed airflow thing?"


def test_that_one_is_one_referring_phrase():
    h = [Turn("What is Amazon EMR?", "What is Amazon EMR?")]
    got = standalone_query("ok, that one. does it run Spark?", h, LEX)
    assert got.startswith("Amazon EMR.") and " one" not in got


def test_after_a_comparison_the_referent_is_both_sides():
    q = "What's the difference between a data lake and a data warehouse?"
    got = standalone_query("and which of them takes raw files?", [Turn(q, q)], LEX)
    assert got == "Which of data lake and data warehouse takes raw files?"


def test_several_openers_are_dropped_before_the_subject_is_added():
    h = [Turn("What is Amazon EMR?", "What is Amazon EMR?")]
    assert standalone_query("ok cool, and how is it billed?", h, LEX) == "How is Amazon EMR billed?"
    assert standalone_query("Understood. And what about pricing?", h, LEX) == (
        "Pricing (Amazon EMR)?"
    )


def test_a_relative_that_and_the_questions_own_they_are_not_replaced():
    h = [Turn("What is Amazon EMR?", "What is Amazon EMR?")]
    q = "and for the rows in our AWS Glue table that should expire when their time is up?"
    got = standalone_query(q, h, LEX)
    # the question's own words stay; the last turn's subject is added at the end
    assert got.startswith("For the rows in our AWS Glue table that should expire when their time")
    assert got.endswith("(Amazon EMR)?")
    # "that" before a verb of comparison is the last turn's subject
    h = [Turn("What is AWS Glue?", "What is AWS Glue?")]
    got = standalone_query("and how's that different from Amazon EMR?", h, LEX)
    assert got == "How's AWS Glue different from Amazon EMR?"


def test_a_follow_up_of_only_an_opener_asks_about_the_subject():
    h = [Turn("What is Amazon EMR?", "What is Amazon EMR?")]
    assert standalone_query("and?", h, LEX) == "Amazon EMR?"


def test_the_subject_is_the_guides_name_however_the_learner_cased_it():
    lex = Lexicon.from_texts(
        [
            "Amazon CloudWatch collects metrics.",
            "CloudWatch Logs keeps log data.",
            "CloudWatch Logs Insights queries log data.",
            "Log retention: set a log retention policy.",
        ]
    )
    h = [
        Turn(
            "how long does cloudwatch logs keep log data?",
            "how long does cloudwatch logs keep log data?",
        )
    ]
    # the guide's spelling, and not the word "log" of the question as a second name
    assert standalone_query("can i change it?", h, lex) == "Can i change CloudWatch Logs?"
    # a word the guide writes after no "Amazon"/"AWS" is no name ("log" here)
    assert "CloudWatch" not in standalone_query("and that?", [Turn("log data?", "log data?")], lex)


def test_without_a_name_the_subject_is_what_the_last_turn_asked_not_its_story():
    story = (
        "Every couple of years a regulator asks for the raw readings behind some old bill, "
        "and we rerun the pipeline whenever a batch blows up. What does the guide say "
        "about data skew?"
    )
    got = standalone_query("How do I fix it?", [Turn(story, story)], LEX)
    assert got == "How do I fix data skew?"
