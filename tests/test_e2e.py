"""End to end with the real embedder, the real index and the real default GGUF model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tutor.answer import Answer, Retrieved, Sentence
from tutor.cli import cli
from tutor.conversation import Turn

pytestmark = pytest.mark.slow

GLUE_EMR = "6. Choosing Between AWS Glue and Amazon EMR"


def _shown_are_grounded(ans: Answer) -> None:
    shown = [s for s in ans.sentences if s.supported]
    assert shown, ans
    by_n = {c.n: c for c in ans.citations}
    for s in shown:
        assert s.citations, s
        # the evidence the checker found lies in a passage the sentence cites
        assert any(
            s.evidence and s.evidence.split(":")[-1].strip()[:30] in by_n[n].text.replace("\n", " ")
            for n in s.citations
        ), s


def test_covered_question_cites_the_right_section(tutor):
    ans = tutor.ask("When should I pick EMR over Glue?")
    assert not ans.abstained
    assert any(c.section_path.endswith(GLUE_EMR) for c in ans.citations), ans.citations
    _shown_are_grounded(ans)
    # every shown sentence carries its own [n] marker, and each n is a listed citation
    cited = {c.n for c in ans.citations}
    for s in ans.sentences:
        if s.supported and s.source != "note":
            assert s.citations and set(s.citations) <= cited, s
            assert "".join(f"[{n}]" for n in s.citations) in ans.answer
    # a comparison: both sides, each from the guide's own comparison
    assert ans.shape == "compare"
    sides = {s.side for s in ans.sentences if s.supported and s.side is not None}
    assert sides == {0, 1}


def test_events_stream_in_order(tutor):
    events = list(tutor.ask_stream("What is AWS Lake Formation used for?"))
    assert isinstance(events[0], Retrieved)
    assert isinstance(events[-1], Answer)
    assert all(isinstance(e, Sentence) and e.supported for e in events[1:-1])
    assert len(events) >= 3
    t = events[-1].timings
    assert t.retrieve_s is not None and t.first_sentence_s is not None
    assert t.retrieve_s < t.first_sentence_s <= (t.total_s or 0)
    # the first cited sentence comes right after retrieval, before the model's first token
    assert t.first_token_s is None or t.first_sentence_s < t.first_token_s


@pytest.mark.parametrize(
    "question",
    [
        "What's the largest row Redshift can store?",
        "how often does a glue crawler run by default",
    ],
)
def test_questions_written_like_learners_type_abstain_when_the_guide_is_silent(tutor, question):
    ans = tutor.ask(question)
    assert ans.abstained, (ans.answer, ans.answerable_p)


@pytest.mark.parametrize(
    "question",
    [
        "How much does Amazon S3 Glacier Deep Archive cost per GB per month?",
        "Who won the FIFA World Cup in 2018?",
        "What is the maximum number of shards in a Kinesis data stream?",
    ],
)
def test_out_of_guide_questions_abstain(tutor, question):
    ans = tutor.ask(question)
    assert ans.abstained, ans.answer
    assert ans.citations == [] and ans.sentences == []
    assert ans.answer.startswith("The guide does not cover this.")


def test_follow_up_uses_the_previous_turn(tutor):
    first = tutor.ask("When should I use AWS Glue?")
    turn = Turn(first.question, first.standalone_question, first.answer)
    ans = tutor.ask("and what is its data catalog for?", history=[turn])
    assert "Glue" in ans.standalone_question
    assert any("Glue" in c.section_path or "Catalog" in c.section_path for c in ans.retrieved)


def test_ask_json_output(tmp_path: Path, session_settings, built_index):
    shutil.copytree(session_settings.index_dir, tmp_path / "index")
    shutil.copytree(session_settings.corpus_dir, tmp_path / "corpus")
    r = CliRunner().invoke(cli, ["ask", "What is key salting?", "--json", "--k", "3"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    for key in ("question", "answer", "abstained", "citations", "sentences", "timings", "model"):
        assert key in d
    assert d["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert set(d["timings"]) >= {"retrieve_s", "first_token_s", "total_s"}
    c = d["citations"][0]
    assert set(c) >= {"n", "chunk_id", "section_path", "start_line", "end_line", "text"}
    assert any("Key Salting" in c["section_path"] for c in d["citations"])
    assert all({"text", "supported", "citations"} <= set(s) for s in d["sentences"])
    assert len(d["retrieved"]) == 3


def test_a_term_the_embedder_does_not_know_is_still_answered(tutor):
    # MiniLM gives "PartiQL" a low cosine; BM25 finds it, and the tutor must not abstain
    ans = tutor.ask("What is PartiQL?")
    assert not ans.abstained, ans.abstain_reason
    assert any("Running SQL Queries" in c.section_path for c in ans.citations)
    assert "PartiQL" in ans.answer


def test_calibrate_fits_on_the_calibration_split_only(
    tmp_path: Path, session_settings, built_index
):
    from tutor.evals.gold import load_gold, select_split
    from tutor.relevance import Calibration

    shutil.copytree(session_settings.index_dir, tmp_path / "index")
    shutil.copytree(session_settings.corpus_dir, tmp_path / "corpus")
    gold = Path(__file__).resolve().parent.parent / "evals" / "gold.jsonl"
    out = tmp_path / "cal.json"
    r = CliRunner().invoke(cli, ["calibrate", "--gold", str(gold), "--out", str(out)])
    assert r.exit_code == 0, r.output
    cal = Calibration.load(out)
    n_cal = len(select_split(load_gold(gold), "calibration"))
    assert cal.fitted["split"] == "calibration" and cal.fitted["questions"] == n_cal
    assert 0 < cal.show < 1 and 0 < cal.answer < 1 and 0 < cal.relative <= 1
    assert cal.typer["examples"] >= 500 and len(cal.typer["classes"]) == 17
    # a damaged calibration file is refused with the command that fixes it
    out.write_text("{}")
    with pytest.raises(Exception, match="tutor calibrate"):
        Calibration.load(out)
