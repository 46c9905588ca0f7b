"""The pipeline's logic with fake models on a tiny guide: abstention before the model is
asked, composition by question shape, near-duplicates and model filler kept out, the
sentence splitter, question reading and the figure check. Fast; no real model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.fakes import FakeEmbedder, FakeGenerator
from tutor.answer import Answer, Retrieved, Sentence, Tutor
from tutor.compose import Composition
from tutor.config import Settings
from tutor.ground import Lexicon, same_claim
from tutor.index import build_index
from tutor.question import (
    AnswerTyper,
    Question,
    ask_parts,
    ask_sentence,
    asks_comparative,
    compare_sides,
    continues,
    contrast_clauses,
    is_scenario,
    other_vendors,
    unknown_names,
)
from tutor.relevance import (
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    Calibration,
    Logistic,
    question_features,
    states_form,
)
from tutor.text import SentenceStream

GUIDE = """\
# Guide

## Choosing Between AWS Glue and Amazon EMR

- **AWS Glue:** Ideal for serverless ETL tasks, data cleansing, and data movement. \
Suitable when you need a managed solution without deep configuration.
- **Amazon EMR:** A more flexible and configurable environment for running Hadoop and \
Spark workloads. It provides better control over the processing environment.

## Amazon Kinesis

Amazon Kinesis Data Streams ingests and stores data from real-time streams for analysis.
Kinesis Data Streams works with AWS Lambda to create event-driven serverless workflows.

## Amazon DynamoDB

Amazon DynamoDB is a NoSQL key-value database with single-digit millisecond performance.
DynamoDB time-to-live deletes expired items from a table automatically.

## AWS Lake Formation

AWS Lake Formation is used to manage data in a data lake with central permissions.
AWS Lake Formation is a service used to manage data in a data lake.
Lake Formation tags let you manage permissions for many tables at once.
"""

FIGURE_WORDS = "maximum number limit size how many cap largest"


def _logistic(names: tuple[str, ...], weights: dict[str, float], bias: float) -> Logistic:
    return Logistic(
        names,
        tuple(weights.get(n, 0.0) for n in names),
        bias,
        tuple(0.0 for _ in names),
        tuple(1.0 for _ in names),
    )


def hand_calibration(embedder: FakeEmbedder) -> Calibration:
    """Hand-set weights (not fitted): relevance from subject coverage and similarity,
    answerability from the best line and the unstated-figure signal. The typer's probe
    fires on figure words, so the figure check can be exercised."""
    classes = ["desc:definition", "num:count"]
    fig = embedder.embed_one(FIGURE_WORDS)
    probe = {
        "classes": classes,
        # P(num:count) = sigmoid(12 fig.v - 3): low unless figure words are asked
        "coef": [list(-fig * 6), list(fig * 6)],
        "intercept": [1.5, -1.5],
    }
    return Calibration(
        _logistic(SENTENCE_FEATURES, {"subj_own": 6.0, "cos_q": 3.0, "lead_in": -4.0}, -4.0),
        _logistic(QUESTION_FEATURES, {"top_p": 8.0, "quantity_unstated": -12.0}, -3.0),
        show=0.3,
        relative=0.5,
        answer=0.5,
        duplicate_cos=0.9,
        max_lines=5,
        typer=probe,
    )


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, object, FakeEmbedder]:
    root = tmp_path_factory.mktemp("small")
    (root / "corpus").mkdir()
    (root / "corpus" / "guide.md").write_text(GUIDE, encoding="utf-8")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", k=3)
    embedder = FakeEmbedder()
    return settings, build_index(settings, embedder), embedder  # type: ignore[arg-type]


def tutor_with(small, reply: str) -> tuple[Tutor, FakeGenerator]:
    settings, index, embedder = small
    gen = FakeGenerator(reply)
    cal = hand_calibration(embedder)
    return Tutor(settings, index, embedder, gen, cal), gen  # type: ignore[arg-type]


def test_an_unstated_figure_abstains_before_the_model_is_asked(small):
    tutor, gen = tutor_with(small, "Kinesis has a cap of 500 shards. [1]")
    ans = tutor.ask("What is the maximum number of shards a Kinesis stream can have?")
    assert ans.abstained and ans.sentences == [] and ans.citations == []
    assert "figure" in ans.abstain_reason
    assert gen.calls == 0  # the model never got the chance to answer from memory


def test_a_question_below_the_topic_floor_abstains_whatever_the_model_says(small):
    settings, index, embedder = small
    question = "What does DynamoDB time-to-live do?"
    tutor, gen = tutor_with(small, "")
    assert not tutor.ask(question).abstained  # on topic, and answered
    # the same question, with a floor above what its nearest passage reaches
    best = tutor.analyse(question, 3).features["best_cos"]
    cal = replace(hand_calibration(embedder), floor={"best_cos": best + 0.01})
    strict = Tutor(settings, index, embedder, gen, cal)  # type: ignore[arg-type]
    ans = strict.ask(question)
    assert ans.abstained and "close to" in ans.abstain_reason
    features = tutor.analyse(question, 3).features
    assert replace(cal, floor={}).on_topic(features)
    # off topic only below every floor: a question close on one signal is kept
    assert replace(cal, floor={"best_cos": best + 0.01, "top_p": -1.0}).on_topic(features)


def test_a_fact_leads_with_the_defining_line_without_paraphrases_or_filler(small):
    reply = (
        "The answer is: (Lake Formation manages data lakes) [1]. "
        "AWS Lake Formation is used to manage data in a data lake. [1]"
    )
    tutor, gen = tutor_with(small, reply)
    events = list(tutor.ask_stream("What is AWS Lake Formation used for?"))
    assert isinstance(events[0], Retrieved) and isinstance(events[-1], Answer)
    ans = events[-1]
    shown = [s for s in ans.sentences if s.supported]
    assert not ans.abstained and gen.calls == 1
    # one of the guide's two defining lines leads; the other, a paraphrase, is not shown
    assert shown[0].text.startswith("AWS Lake Formation is")
    assert shown[0].source == "guide" and shown[0].citations
    # the guide's two wordings of one idea, and the model's copy of it, appear once
    assert not any(
        same_claim(a.text, b.text, 0.6) for i, a in enumerate(shown) for b in shown[i + 1 :]
    )
    assert "The answer is" not in ans.answer
    # every sentence streamed before the answer is one that the answer shows
    streamed = [e for e in events if isinstance(e, Sentence)]
    assert streamed == shown


def test_a_model_that_dies_mid_answer_keeps_what_was_verified_and_says_so(small):
    whole = "Whole sentence one about Lake Formation. Half a sent"
    tutor, gen = tutor_with(small, whole)
    tutor.generator = FakeGenerator(whole, cut_after=whole.index("Half"))
    events = list(tutor.ask_stream("What is AWS Lake Formation used for?"))
    ans = events[-1]
    assert isinstance(ans, Answer) and not ans.abstained
    streamed = [e for e in events if isinstance(e, Sentence)]
    # everything shown before the cut stays, in order, and the answer ends saying so
    assert ans.sentences[: len(streamed)] == streamed and streamed[0].source == "guide"
    assert streamed[-1].source == "note" and "cut off" in streamed[-1].text
    assert "the fake model died" in streamed[-1].reason
    assert ans.answer.endswith("this answer may be incomplete.")
    # the whole sentence the model finished was judged; the unfinished one never was
    judged = {s.text for s in ans.sentences}
    assert any("Whole sentence one" in t for t in judged)
    assert not any("Half" in t for t in judged)


def test_the_model_is_not_asked_when_the_guide_lines_complete_the_answer(small):
    tutor, gen = tutor_with(small, "AWS Lake Formation manages data lakes. [1]")
    tutor.calibration = replace(tutor.calibration, max_lines=1)
    ans = tutor.ask("What is AWS Lake Formation used for?")
    assert not ans.abstained and [s.source for s in ans.sentences] == ["guide"]
    assert gen.calls == 0 and ans.timings.first_token_s is None


def test_the_model_stops_as_soon_as_the_answer_is_complete(small, monkeypatch):
    # no guide lines, so that a draft can complete the answer (of one line)
    monkeypatch.setattr("tutor.answer.compose", lambda *a, **k: Composition([]))
    reply = (
        "Lake Formation tags let you manage permissions for many tables at once. [1] "
        + "Amazon Kinesis Data Streams ingests data from real-time streams. [2] " * 5
    )
    tutor, gen = tutor_with(small, reply)
    tutor.calibration = replace(tutor.calibration, max_lines=1)
    ans = tutor.ask("How do Lake Formation tags help with permissions?")
    assert [(s.source, s.supported) for s in ans.sentences] == [("model", True)]
    assert gen.calls == 1 and gen.closed
    assert gen.pieces < len(reply) // 7  # the rest of the reply was never asked for


def test_a_comparison_shows_each_side_from_the_guides_own_comparison(small):
    tutor, _ = tutor_with(small, "")
    ans = tutor.ask("When should I pick EMR over Glue?")
    assert ans.shape == "compare" and ans.sides == ("EMR", "Glue")
    by_side = {s.side: s.text for s in ans.sentences if s.supported and s.side is not None}
    assert "EMR" in by_side[0] and "Glue" in by_side[1]
    cited = {c.section_path for c in ans.citations}
    assert cited == {"Guide › Choosing Between AWS Glue and Amazon EMR"}


def test_a_multi_part_question_says_which_part_the_guide_does_not_cover(small):
    tutor, _ = tutor_with(small, "")
    ans = tutor.ask("What does DynamoDB time-to-live do, and who invented the bicycle?")
    assert not ans.abstained
    notes = [s.text for s in ans.sentences if s.source == "note"]
    assert notes == ["The guide does not say: who invented the bicycle?"]
    assert any("time-to-live" in s.text for s in ans.sentences if s.source == "guide")


def test_the_sentence_stream_cuts_at_sentence_ends_but_not_list_markers():
    stream = SentenceStream()
    out = []
    for piece in ["1. AWS Glue is serv", "erless. [1] Amazon EMR", " runs Spark.", " Trailing"]:
        out += stream.feed(piece)
    out += stream.flush()
    # the citation marker stays with its sentence (the verifier reads and strips it)
    assert out == ["1. AWS Glue is serverless.[1]", "Amazon EMR runs Spark.", "Trailing"]


@pytest.mark.parametrize(
    ("question", "ranks"),
    [
        ("firehose or data streams which one takes bigger records", True),
        ("Which is the older service, AWS Data Pipeline or AWS Step Functions?", True),
        ("gzip vs bzip2 for our s3 logs - which one does athena get through faster", True),
        ("What is the difference between RBAC and ABAC?", False),
        ("glue or emr for a nightly spark job?", False),
        ("Which service is cheapest for archiving?", False),  # one option: not a ranking of two
    ],
)
def test_a_ranking_of_options_is_read_from_the_question(question, ranks):
    assert asks_comparative(question) is ranks


def test_a_ranking_that_no_best_line_makes_is_a_signal_against_answering(small):
    tutor, _ = tutor_with(small, "")
    unstated = tutor.analyse("Which is faster, Kinesis Data Streams or DynamoDB?", 3)
    assert unstated.features["ranking_unstated"] == 1.0
    # the guide ranks these two: "better control" / "more flexible"
    stated = tutor.analyse("Which gives better control, AWS Glue or Amazon EMR?", 3)
    assert any("better control" in c.unit.text for c in stated.candidates)
    assert stated.features["ranking_unstated"] == 0.0
    # the same lines rank on control, not on cost: "cheaper" is not answered by "more"
    cost = tutor.analyse("Which is cheaper, AWS Glue or Amazon EMR?", 3)
    assert any("more flexible" in c.unit.text for c in cost.candidates)
    assert cost.features["ranking_unstated"] == 1.0


def test_a_yes_no_question_about_a_detail_no_best_line_names_is_a_signal_against_answering(
    small,
):
    tutor, _ = tutor_with(small, "")

    def unstated(question: str, yesno: float) -> float:
        a = tutor.analyse(question, 3)
        q = replace(a.question, types={"yesno": yesno})
        f = question_features(q, a.candidates, 0.5, 0.5, 1.0, 0, 0, 1, tutor.lexicon)
        return f["yesno_unstated"]

    # "Parquet" and "encrypt" are in no line: the guide does not say
    assert unstated("Can Lake Formation tags encrypt Parquet files?", 1.0) >= 0.5
    # a line names everything asked: "DynamoDB time-to-live deletes expired items ..."
    assert unstated("Does DynamoDB time-to-live delete expired items?", 1.0) < 0.2
    # not a yes/no question: no signal, however little the lines name
    assert unstated("Can Lake Formation tags encrypt Parquet files?", 0.0) == 0.0


@pytest.mark.parametrize(
    ("question", "sides"),
    [
        ("When should I pick EMR over Glue for a Spark job?", ("EMR", "Glue")),
        ("batch vs streaming ingestion — when do I use which?", ("batch", "streaming ingestion")),
        ("What is the difference between RBAC and ABAC?", ("RBAC", "ABAC")),
        ("How do I fix slow queries?", None),
    ],
)
def test_compare_sides_are_read_from_the_question(question, sides):
    assert compare_sides(question) == sides


def test_parts_scenarios_and_the_asking_sentence():
    assert ask_parts("What is Glue? And how is it billed?") == [
        "What is Glue?",
        "And how is it billed?",
    ]
    # a remark after the ask is not an ask
    assert ask_parts("diff between near real-time and real time? they sound the same lol") == [
        "diff between near real-time and real time?"
    ]
    assert ask_parts("What is Kinesis and how does it scale") == [
        "What is Kinesis?",
        "how does it scale?",
    ]
    stem = (
        "A company ingests clickstream data from a website. The team has no servers to manage. "
        "Which solution meets these requirements with the LEAST operational overhead?"
    )
    assert is_scenario(stem) and not is_scenario("What is AWS Glue?")
    assert ask_sentence(stem).startswith("Which solution")


@pytest.mark.parametrize(
    ("text", "kind", "states"),
    [
        ("By default, CloudWatch Logs retains log data indefinitely.", "num:period", True),
        ("Records can be up to 1 MB in size.", "num:size", True),
        ("Kinesis ingests and stores data from real-time streams.", "num:size", False),
        ("Kinesis ingests and stores data from real-time streams.", "num:count", False),
        ("A stream can hold 500 shards.", "num:count", True),
        ("Crawlers run every 6 hours on a schedule.", "num:frequency", True),
        ("Pricing is $0.44 per DPU-hour.", "num:money", True),
    ],
)
def test_the_figure_check_reads_the_kind_of_figure(text, kind, states):
    assert states_form(text, kind) is states


def test_a_logistic_model_is_the_formula_it_claims():
    m = Logistic(("a", "b"), (2.0, -1.0), 0.5, (1.0, 0.0), (2.0, 1.0))
    # z = 2 * (3 - 1) / 2 - 1 * 1 + 0.5 = 1.5
    assert m.prob({"a": 3.0, "b": 1.0}) == pytest.approx(1 / (1 + np.exp(-1.5)))


def test_a_default_setting_and_a_figure_are_separate_signals():
    lex = Lexicon.from_texts([GUIDE])
    q = Question(
        "how long are logs kept if nobody changes it?",
        frozenset({"log"}),
        {"value:default": 0.6, "num:period": 0.3, "desc:purpose": 0.1},
        0.9,
        "fact",
    )
    f = question_features(q, [], 0.5, 0.5, 1.0, 0, 0, 0, lex)
    # nothing retrieved states either: both asks are unstated, each with its own weight
    assert f["default_asked"] == pytest.approx(0.6) and f["default_unstated"] == pytest.approx(0.6)
    assert f["quantity"] == pytest.approx(0.3) and f["quantity_unstated"] == pytest.approx(0.3)


def test_the_typer_averages_its_readings_of_one_question():
    # two classes, logits (z, -z) for z = v[0]: P(b) = sigmoid(-2 v[0])
    typer = AnswerTyper(
        {"classes": ["a", "num:b"], "coef": [[1.0, 0.0], [-1.0, 0.0]], "intercept": [0.0, 0.0]}
    )
    ask, whole = np.array([1.0, 0.0]), np.array([-1.5, 0.0])
    p_ask, p_whole = 1 / (1 + np.exp(2.0)), 1 / (1 + np.exp(-3.0))
    one, figure_one = typer.types(ask)
    both, figure_both = typer.types(ask, whole)
    assert figure_one == pytest.approx(p_ask, abs=1e-4)
    assert figure_both == pytest.approx((p_ask + p_whole) / 2, abs=1e-4)
    assert both["num:b"] == pytest.approx(figure_both, abs=1e-4)
    assert list(both) == ["num:b", "a"] and list(one) == ["a", "num:b"]


def test_other_vendors_products_are_found_even_where_the_guide_uses_the_word():
    # the guide's own sense of a word ("snowflake schema") is not another vendor
    lex = Lexicon.from_texts(
        [
            "A snowflake schema normalises the dimensions of a star schema.",
            "Deequ can run on AWS Glue, Amazon EMR or third-party services like Databricks.",
        ]
    )
    # the embedding model's whole words: plain English, and these products' common names
    vocab = frozenset(
        "when is a snowflake schema better than star my warehouse auto suspends too fast "
        "unity catalog vs hive metastore azure data factory or aws glue what does do".split()
    )
    assert other_vendors("When is a snowflake schema better than a star schema?") == 0
    assert other_vendors("my Snowflake warehouse auto-suspends too fast") == 1
    assert other_vendors("databricks unity catalog vs hive metastore") == 2
    assert other_vendors("Azure Data Factory or AWS Glue?") == 1
    assert other_vendors("What does AWS Glue do?") == 0
    # counted once: the word test does not count them again
    assert unknown_names("databricks unity catalog vs hive metastore", lex, vocab) == 0
    # other unknown names still count
    assert unknown_names("QuokkaBase vs zorblix", lex, vocab) == 2


@pytest.mark.parametrize(
    ("part", "continuation"),
    [
        ("whats the actual difference?", True),
        ("whats the tradeoff?", True),
        ("is there a catch with one of them?", True),
        ("how does it scale?", False),
        ("who invented the bicycle?", False),
        ("And how is it billed?", False),
    ],
)
def test_an_ask_that_only_weighs_what_came_before_is_not_a_part(part, continuation):
    assert continues(part) is continuation


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        (
            "one service tells me who called an API, and the other one gathers metrics",
            ("one service tells me who called an API", "gathers metrics"),
        ),
        (
            "The app does tiny inserts all day, while analysts run big aggregations.",
            ("The app does tiny inserts all day", "analysts run big aggregations"),
        ),
        ("What is AWS Glue?", None),
    ],
)
def test_a_described_comparison_has_two_sides(text, clauses):
    assert contrast_clauses(text) == clauses


def test_a_line_gets_its_nearest_learner_question_however_many_are_nearer(small):
    """`asked_line` is the cosine of the nearest learner question a line answers, even
    when more than 20 learner questions about other lines are nearer the question."""
    tutor, _ = tutor_with(small, "")
    dim = tutor.index.unit_vectors.shape[1]
    q = np.zeros(dim, dtype=np.float32)
    q[0] = 1.0
    near = np.zeros((30, dim), dtype=np.float32)
    near[:, 0], near[:, 1] = 0.9, np.sqrt(1 - 0.81)  # cosine 0.9 to the question
    far = np.zeros((1, dim), dtype=np.float32)
    far[0, 0], far[0, 2] = 0.5, np.sqrt(1 - 0.25)  # cosine 0.5: the 31st nearest
    index = replace(
        tutor.index,
        memory_vectors=np.vstack([near, far]),
        memory_units=[(0,)] * 29 + [(0, 1), (2,)],
    )
    tutor.index = index
    got = tutor._asked_lines(q, [0, 1, 2, 3])
    assert got == pytest.approx({0: 0.9, 1: 0.9, 2: 0.5})
