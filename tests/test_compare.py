"""Comparisons the guide draws itself: nested bullets and their parents, comparison
blocks, which side a line is about, and composing a comparison asked in other words.
Fast unit tests on hand-made passages and hand-set relevance (no model)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tutor.compose import _side_of, comparison_blocks, compose, guide_comparison
from tutor.ground import Lexicon, split_units
from tutor.question import Question, compare_sides
from tutor.relevance import Calibration, Candidate, Logistic
from tutor.text import heading_of

# passages as the index keeps them (the chunker drops the markdown emphasis)
ORCHESTRATION = """\
- Amazon MWAA (Managed Workflows for Apache Airflow):
  - Apache Airflow: Define Directed Acyclic Graphs (DAGs) to manage complex workflows.
- Step Functions:
  - State Machines: Coordinate different AWS services using a visual workflow.
- Comparison:
  - MWAA: Ideal for complex, code-driven workflows.
  - Step Functions: Best for serverless, event-driven workflows.
"""

OLTP_OLAP = """\
- OLTP (Online Transaction Processing):
  - Optimised for real-time transactional processing and updates.
  - Ideal for order processing, payments, and customer data management.
- OLAP (Online Analytical Processing):
  - Optimised for complex data analysis and reporting.
  - Uses star schema, snowflake schema, or other analytical models.
"""

CATALOGUE = "\n".join(f"- Service {c} | stores data of kind {c}" for c in "ABCDEF")


def _lexicon(*texts: str) -> Lexicon:
    return Lexicon.from_texts(list(texts))


def _cands(passages: list[tuple[str, str]], p: dict[str, float]) -> list[Candidate]:
    """Candidates from (title, text) passages; relevance `p` by a word of the line."""
    units = split_units([t for _, t in passages], [title for title, _ in passages])
    out = []
    for u in units:
        score = max((v for w, v in p.items() if w in u.text), default=0.05)
        feats = {"subj_own": 0.0, "q_form": 0.0}
        out.append(Candidate(u, u.n, feats, p=score, path=passages[u.n - 1][0]))
    return out


def _calibration(**kw: float) -> Calibration:
    nothing = Logistic((), (), 0.0, (), ())
    return Calibration(nothing, nothing, show=0.5, relative=0.9, max_lines=5, **kw)


def _question(text: str, contrast: float, shape: str = "fact") -> Question:
    return Question(text, frozenset(), {}, 0.0, shape, contrast=contrast)


@pytest.mark.parametrize(
    ("line", "head"),
    [
        ("- **Comparison:**", "Comparison"),
        ("- **OLTP (Online Transaction Processing):**", "OLTP (Online Transaction Processing)"),
        ("  - **Batch vs. Streaming:** Understand the differences.", "Batch vs. Streaming"),
        ("Amazon EMR runs Spark. It scales.", ""),
    ],
)
def test_a_line_names_what_is_nested_under_it(line, head):
    assert heading_of(line) == head


def test_nested_lines_know_their_parent_and_whether_the_guide_compares_there():
    units = {u.text: u for u in split_units([ORCHESTRATION], ["Orchestrating Data Pipelines"])}
    airflow = next(u for t, u in units.items() if t.startswith("Apache Airflow: Define"))
    assert airflow.parent == "Amazon MWAA (Managed Workflows for Apache Airflow)"
    assert not airflow.in_comparison
    best = units["Step Functions: Best for serverless, event-driven workflows."]
    assert best.parent == "Comparison" and best.in_comparison
    # a labelled line shows its own label; the comparison heading names no side
    assert best.display == "Step Functions: Best for serverless, event-driven workflows."
    # a bare nested line shows the bullet it belongs to, so its side is named
    bare = split_units([OLTP_OLAP], ["2. OLTP vs. OLAP Data Modelling"])
    star = next(u for u in bare if u.text.startswith("Uses star schema"))
    assert star.in_comparison  # by its section title
    assert star.display.startswith("OLAP (Online Analytical Processing): Uses star schema")
    assert star.shown == star.text  # what the index embeds is unchanged


STORAGE = """\
- Amazon EFS (File Storage):
  - Characteristics: Fully managed file storage that can be shared across EC2 instances.
- Amazon EBS (Block Storage):
  - Characteristics: Persistent block-level storage volumes attached to EC2 instances.
- Key Considerations for Ingestion:
  - Destination: Where will this data go after ingestion?
- CloudWatch:
  - Events: CloudWatch Events deliver a stream of system events.
"""


def test_a_line_with_a_label_that_names_no_service_shows_the_service_it_is_under():
    lex = _lexicon(STORAGE, "Amazon EFS and Amazon EBS and CloudWatch store things.")
    units = split_units([STORAGE], ["Overview of AWS Storage Services"], lex)
    shown = [u.display for u in units if u.label]
    assert shown[0].startswith("Amazon EFS (File Storage) — Characteristics: Fully managed")
    assert shown[1].startswith("Amazon EBS (Block Storage) — Characteristics: Persistent")
    # a topic heading is not a service, and a line that names its service already
    # does not repeat it
    assert shown[2] == "Destination: Where will this data go after ingestion?"
    assert shown[3] == "Events: CloudWatch Events deliver a stream of system events."
    assert all(u.shown == u.text or u.shown.startswith(u.label) for u in units)


@pytest.mark.parametrize(
    ("question", "sides"),
    [
        ("How does ABAC differ from RBAC?", ("ABAC", "RBAC")),
        ("How's AWS Glue different from Amazon EMR?", ("AWS Glue", "Amazon EMR")),
        ("Should I orchestrate with MWAA or Step Functions?", ("MWAA", "Step Functions")),
        ("How is a data lake different from a data warehouse?", ("data lake", "data warehouse")),
        ("Is Athena different from Redshift Spectrum?", ("Athena", "Redshift Spectrum")),
    ],
)
def test_more_ways_of_asking_for_a_comparison_are_read(question, sides):
    assert compare_sides(question) == sides


def test_a_line_labelled_with_one_side_belongs_to_it_though_it_names_both():
    text = "- AWS DMS: Works with AWS SCT to convert the source schema.\n"
    lex = _lexicon(text, "AWS SCT converts schemas. AWS DMS migrates databases.")
    (c,) = _cands([("Migration", text)], {})
    sides = [frozenset({"sct"}), frozenset({"dms"})]
    assert _side_of(c, sides, lex) == 1


def test_a_nested_line_belongs_to_the_side_its_parent_names_most_of():
    text = (
        "- Streaming Data Ingestion:\n  - Amazon Kinesis: For real-time ingestion.\n"
        "- Batch Data Ingestion:\n  - Amazon EMR: Deploy Hadoop frameworks to load data.\n"
    )
    lex = _lexicon(text, "Streaming ingestion. Batch ingestion. Batch jobs run nightly.")
    kinesis, emr = [c for c in _cands([("Ingestion", text)], {}) if c.unit.label]
    sides = [frozenset({"batch"}), frozenset({"stream", "ingest"})]
    assert (_side_of(kinesis, sides, lex), _side_of(emr, sides, lex)) == (1, 0)


def test_the_guide_comparison_is_read_one_line_per_side_in_turn():
    cands = _cands(
        [("Orchestrating Data Pipelines", ORCHESTRATION), ("Catalogue Comparison", CATALOGUE)],
        {"code-driven": 0.3, "event-driven": 0.2, "Service A": 0.9},
    )
    lines, sides = guide_comparison(cands, 4)
    # the catalogue (six rows under a "Comparison" title) is not a comparison of sides,
    # however relevant its best row
    assert [c.unit.label for c in lines] == ["MWAA", "Step Functions"]
    assert sides == [0, 1]


def test_a_comparison_in_other_words_is_answered_by_the_guides_comparison():
    cands = _cands(
        [("2. OLTP vs. OLAP Data Modelling", OLTP_OLAP)],
        {"payments": 0.4, "star schema": 0.3, "reporting": 0.25, "real-time": 0.2},
    )
    lex = _lexicon(OLTP_OLAP)
    q_text = "Checkout takes payments while analysts look back years: how do they differ?"

    def shown(contrast: float, show: float = 0.5) -> list[str]:
        cal = replace(_calibration(contrast=0.3), show=show)
        comp = compose(_question(q_text, contrast), cands, cal, lex, lambda a, b: 0.0)
        return [c.unit.display for c in comp.lines]

    # one line per side in turn, each side's best first; a side's later lines (0.2 and
    # 0.25) must pass the relevance bar
    both = shown(0.6, show=0.2)
    assert [s.split(" (")[0] for s in both] == ["OLTP", "OLAP", "OLTP", "OLAP"]
    assert both[1].endswith("Uses star schema, snowflake schema, or other analytical models.")
    assert [s.split(" (")[0] for s in shown(0.6)] == ["OLTP", "OLAP"]
    # below the threshold only the lines that pass the relevance bar are shown
    assert shown(0.1) == [
        "OLTP (Online Transaction Processing): Ideal for order processing, payments, and "
        "customer data management."
    ]


MONITORING = """\
- CloudTrail:
  - API Call Logging: Records all API calls, providing an audit trail.
  - API Call Logging: Logs can be sent to Amazon S3 for analysis and alerting.
  - Trails: Deliver the logs to a bucket of your choice.
- CloudWatch:
  - Metrics Collection: Track and collect metrics from your AWS resources.
"""


def test_a_described_comparison_without_a_guide_block_shows_each_sides_best_line():
    cands = _cands(
        [("AWS Monitoring and Observability Tools", MONITORING)],
        {"Records all": 0.6, "sent to": 0.55, "Deliver": 0.5, "Track and": 0.2},
    )
    for c in cands:  # the side each line is closest to: API calls (0) or metrics (1)
        c.part = 1 if "metrics" in c.unit.text else 0
    q = Question(
        "one tool records who called an API, the other one collects metrics: how do they differ?",
        frozenset(),
        {},
        0.0,
        "fact",
        parts=("one tool records who called an API", "collects metrics"),
        contrast=0.8,
    )
    comp = compose(q, cands, _calibration(contrast=0.3), _lexicon(MONITORING), lambda a, b: 0.0)
    shown = [c.unit.text for c in comp.lines]
    # the metrics side's line is under the relevance bar, yet shown, second
    assert shown[:2] == [
        "API Call Logging: Records all API calls, providing an audit trail.",
        "Metrics Collection: Track and collect metrics from your AWS resources.",
    ]
    # without the described sides, only the lines over the bar
    plain = compose(
        Question(q.text, frozenset(), {}, 0.0, "fact", contrast=0.8),
        cands,
        _calibration(contrast=0.3),
        _lexicon(MONITORING),
        lambda a, b: 0.0,
    )
    assert "Metrics Collection: Track and collect metrics from your AWS resources." not in [
        c.unit.text for c in plain.lines
    ]


STREAMS = """\
Service | Description
Amazon Kinesis Data Streams | A data streaming service that captures data in real time.
Amazon Kinesis Data Firehose | Near real-time analytics by loading data streams into data stores.
"""


def test_a_table_row_is_on_the_side_its_first_cell_names():
    lex = _lexicon(STREAMS, "Kinesis Data Firehose sends data to S3. Data streams.")
    rows = {
        c.unit.text.split(" | ")[0]: c for c in _cands([("Data streams services", STREAMS)], {})
    }
    sides = [frozenset({"kinesi", "data", "stream"}), frozenset({"kinesi", "data", "firehos"})]
    # the Firehose row says "data streams" too: its first cell, not its words, decides
    assert _side_of(rows["Amazon Kinesis Data Firehose"], sides, lex) == 1
    assert _side_of(rows["Amazon Kinesis Data Streams"], sides, lex) == 0
    # a first cell that names only what both sides share ("data") does not decide
    (design,) = _cands([("Storage", "Data design | Normalised data warehouse tables.\n")], {})
    both = [frozenset({"data", "lake"}), frozenset({"data", "warehous"})]
    assert _side_of(design, both, _lexicon(STREAMS, "data lake. data warehouse.")) == 1


def test_a_line_naming_the_longer_of_two_nested_sides_is_on_that_side():
    # "glue vs glue databrew": every DataBrew line names Glue too
    text = (
        "- AWS Glue: Ideal for serverless ETL tasks.\n"
        "- AWS Glue DataBrew: A visual data preparation tool.\n"
        "AWS Glue is a serverless data integration service.\n"
        "AWS Glue DataBrew cleans data without code.\n"
    )
    lex = _lexicon(text, "Amazon EMR runs Spark. AWS Glue crawlers.")
    glue, brew, glue_line, brew_line = _cands([("Glue", text)], {})
    sides = [frozenset({"glue"}), frozenset({"glue", "databrew"})]
    assert [_side_of(c, sides, lex) for c in (glue, brew, glue_line, brew_line)] == [0, 1, 0, 1]
    # the same with the sides asked the other way round
    flipped = sides[::-1]
    assert [_side_of(c, flipped, lex) for c in (glue, brew, glue_line, brew_line)] == [1, 0, 1, 0]


VELOCITY = """\
- Near real-time: The batches are collected and then processed within minutes of the data.
- Real time: The batches are collected and then processed within milliseconds of the data.
"""


def test_lines_under_different_labels_are_not_repeats_of_each_other():
    cands = _cands([("3. Velocity", VELOCITY)], {"minutes": 0.9, "milliseconds": 0.85})
    q = Question("near real time vs real time?", frozenset(), {}, 0.0, "fact")
    comp = compose(q, cands, _calibration(contrast=0.3), _lexicon(VELOCITY), lambda a, b: 0.0)
    # nearly the same words, but two labels: both are the answer
    assert [c.unit.label for c in comp.lines] == ["Near real-time", "Real time"]


def test_a_comparison_block_far_below_the_bar_does_not_answer_a_comparison():
    cands = _cands(
        [("3. Velocity", VELOCITY), ("Orchestrating Data Pipelines", ORCHESTRATION)],
        {"minutes": 0.9, "milliseconds": 0.85, "code-driven": 0.01, "event-driven": 0.01},
    )
    q = Question("near real time vs real time?", frozenset(), {}, 0.0, "fact", contrast=0.8)
    comp = compose(q, cands, _calibration(contrast=0.3), _lexicon(VELOCITY), lambda a, b: 0.0)
    labels = [c.unit.label for c in comp.lines]
    assert labels == ["Near real-time", "Real time"]
    # the same block, relevant, leads
    cands = _cands(
        [("3. Velocity", VELOCITY), ("Orchestrating Data Pipelines", ORCHESTRATION)],
        {"minutes": 0.9, "milliseconds": 0.85, "code-driven": 0.3, "event-driven": 0.2},
    )
    comp = compose(q, cands, _calibration(contrast=0.3), _lexicon(VELOCITY), lambda a, b: 0.0)
    assert [c.unit.label for c in comp.lines][:2] == ["MWAA", "Step Functions"]


CASES = """\
- 3. Using Amazon Redshift for Data Warehousing:
  - Scenario: Need to store 30 TB of data, with thousands of aggregated queries daily.
  - Solution: Amazon Redshift is ideal due to its columnar data storage.
- 4. Data Migration to Amazon Redshift:
  - Scenario: Migrating data into a Redshift cluster table.
  - Solution: Use the COPY command in Redshift to load data from sources like S3.
"""


def test_a_worked_problem_is_shown_with_its_solution():
    cands = _cands([("Case Studies", CASES)], {"30 TB": 0.9, "COPY": 0.4, "Migrating": 0.6})
    q = Question("We will store 30 TB. Which store fits?", frozenset(), {}, 0.0, "scenario")

    def shown(most: int) -> list[str]:
        cal = Calibration(
            Logistic((), (), 0.0, (), ()),
            Logistic((), (), 0.0, (), ()),
            show=0.5,
            relative=0.5,
            max_lines=most,
        )
        comp = compose(q, cands, cal, _lexicon(CASES), lambda a, b: 0.0)
        return [c.unit.text.split(":")[0] + ":" + c.unit.text.split()[1] for c in comp.lines]

    # each problem the relevance bar lets through comes with the guide's answer to it
    assert shown(5) == ["Scenario:Need", "Solution:Amazon", "Scenario:Migrating", "Solution:Use"]
    # no room for the second problem's solution: the solution takes its place
    assert shown(3) == ["Scenario:Need", "Solution:Amazon", "Solution:Use"]


def test_a_line_with_no_label_or_parent_is_not_a_side_of_a_comparison_block():
    text = OLTP_OLAP + "- Large storage requirements, from terabytes to petabytes.\n"
    cands = _cands([("2. OLTP vs. OLAP Data Modelling", text)], {"payments": 0.4})
    blocks = comparison_blocks(cands)
    assert [list(b) for b in blocks] == [
        ["OLTP (Online Transaction Processing)", "OLAP (Online Analytical Processing)"]
    ]


PREDICTIVE = """\
- Predictive analytics: meant to predict future happenings.
- Prescriptive analytics: meant to suggest what to do next.
- It recommends actions to take next.
"""


def test_a_named_comparison_fills_its_room_with_the_most_relevant_other_lines():
    cands = _cands(
        [("Kinds of insight", PREDICTIVE)],
        {"future": 0.5, "suggest": 0.4, "recommends": 0.9},
    )
    text = "predictive vs prescriptive?"
    sides = compare_sides(text)
    assert sides is not None
    q = Question(text, frozenset(), {}, 0.0, "compare", sides, sides)
    lex = _lexicon(PREDICTIVE)
    comp = compose(q, cands, replace(_calibration(), show=0.3), lex, lambda a, b: 0.0)
    shown = [c.unit.text for c in comp.lines]
    # the best line of all names neither side in its own words: it still has its place
    assert "It recommends actions to take next." in shown
    assert len(comp.sides) == len(comp.lines)


def test_a_line_that_says_less_than_a_shown_line_is_left_out():
    longer = (
        "- CloudWatch Logs: By default, logs in CloudWatch Logs are retained "
        "indefinitely, but you can configure retention policies to specify how long to "
        "retain your log data."
    )
    shorter = "- Log Retention: By default, CloudWatch Logs retains log data indefinitely."
    other = "- Metric Filters: Turn log events into CloudWatch metrics for alarms."
    cands = _cands(
        [("Logging", longer), ("Monitoring", shorter + "\n" + other)],
        {"configure": 0.9, "retains": 0.85, "alarms": 0.85},
    )
    q = _question("how long does cloudwatch keep logs by default?", 0.0)
    lex = _lexicon(longer, shorter, other)
    shown = [c.unit.text for c in compose(q, cands, _calibration(), lex, lambda a, b: 0.0).lines]
    assert shown[0].startswith("CloudWatch Logs: By default")
    assert not any(t.startswith("Log Retention") for t in shown)  # under another label, too
    assert any(t.startswith("Metric Filters") for t in shown)


def test_a_comparison_has_room_for_one_line_more_than_a_fact():
    from tutor.compose import line_limit

    cal = _calibration(contrast=0.5)
    assert line_limit(_question("EMR vs Glue?", 0.0, "compare"), cal) == 6
    assert line_limit(_question("our two teams ... which fits each?", 0.7), cal) == 6
    assert line_limit(_question("What is Glue?", 0.2), cal) == 5


def test_a_named_comparison_leads_with_the_guides_block_when_it_names_the_sides_otherwise():
    cands = _cands(
        [("Orchestrating Data Pipelines", ORCHESTRATION)],
        {"code-driven": 0.6, "event-driven": 0.5, "Directed": 0.55, "Coordinate": 0.45},
    )
    lex = _lexicon(ORCHESTRATION)
    q = Question(
        "Should I use the managed Airflow service or the state-machine service?",
        frozenset(),
        {},
        0.0,
        "compare",
        sides=("managed Airflow service", "state-machine service"),
    )
    comp = compose(q, cands, _calibration(), lex, lambda a, b: 0.0)
    shown = [c.unit.text for c in comp.lines]
    # "MWAA" and "Step Functions" name neither side's words, yet they are the guide's
    # answer: they lead, before each side's own lines
    assert shown[:2] == [
        "MWAA: Ideal for complex, code-driven workflows.",
        "Step Functions: Best for serverless, event-driven workflows.",
    ]
    assert comp.sides[:2] == [-1, -1]
    assert (
        "Apache Airflow: Define Directed Acyclic Graphs (DAGs) to manage complex workflows."
        in shown
    )


AUTH = """\
- Authentication: This is the process of identifying and verifying who you are.
- Authorisation: Once authenticated, authorisation determines what you can access.
"""


def test_a_comparison_marks_the_list_mates_of_the_line_it_matches():
    from tutor.relevance import add_relative

    def cands() -> list[Candidate]:
        out = []
        for u in split_units([AUTH, "AWS IAM controls who can sign in."], ["Auth", "IAM"]):
            cos = 0.6 if u.label == "Authorisation" else 0.2
            out.append(Candidate(u, u.n, {"cos_q": cos, "subj_ctx": 0.0}, path=""))
        return out

    compared, plain = cands(), cands()
    add_relative(compared, 0.8)
    add_relative(plain, 0.0)
    by_text = {c.unit.text[:9]: c.features["sib_cos"] for c in compared}
    # the other item of the list gets its mate's similarity, weighted by how surely the
    # question compares; a line of no list, or of a question that does not compare, none
    assert by_text["Authentic"] == pytest.approx(0.8 * 0.6)
    assert by_text["Authorisa"] == pytest.approx(0.8 * 0.2)
    assert by_text["AWS IAM c"] == 0.0
    assert all(c.features["sib_cos"] == 0.0 for c in plain)
