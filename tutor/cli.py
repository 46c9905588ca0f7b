"""The `tutor` command line.

Commands: `index`, `ask`, `chat`, `sections` (and `eval`, `serve` where installed).
Option values come from `Settings` (flag > TUTOR_* env > tutor.toml > default).
User mistakes raise `TutorError` and end as one line on stderr with exit code 1; heavy
libraries (torch, faiss, llama.cpp) are imported only inside the commands that need them,
so `tutor --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tutor.config import FIELDS, Settings, load_settings
from tutor.errors import TutorError

if TYPE_CHECKING:
    from tutor.answer import Answer, Tutor


class _Group(click.Group):
    """Turns TutorError into a clean message and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TutorError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            sys.exit(130)


def setting_option(name: str, *decls: str) -> Callable[[Any], Any]:
    """A click option whose help text and type come from the Settings field."""
    f = FIELDS[name]
    kind = {"int": int, "float": float}.get(str(f.type), click.Path(path_type=Path))
    return click.option(
        *(decls or (f"--{name.replace('_', '-')}",)),
        name,
        type=kind,
        default=None,
        help=f"{f.metadata['help']} [default: {f.default}]",
    )


def _settings(ctx: click.Context, **cli: Any) -> Settings:
    obj = ctx.find_root().obj or {}
    return load_settings(obj.get("config"), **cli)


def say(msg: str) -> None:
    click.secho(msg, err=True, dim=True)


def open_tutor(settings: Settings, load_model: bool = True) -> Tutor:
    """Load (or rebuild, saying so) the index, and the tutor around it. Questions are
    embedded by the index's ONNX export; torch is imported only if the index is rebuilt.
    Without `load_model` the GGUF loads when the first draft is asked for, so a question
    the tutor abstains on never loads it."""
    from tutor.answer import Tutor
    from tutor.embed import Embedder
    from tutor.generate import check_gguf
    from tutor.index import ensure_index

    check_gguf(settings.gguf_path())
    index, _ = ensure_index(settings, Embedder(), progress=say)
    tutor = Tutor(settings, index)
    if load_model:
        tutor.warm_up()
    return tutor


@click.group(cls=_Group)
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML settings file [default: ./tutor.toml if present]",
)
@click.version_option(package_name="tutor")
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """An offline study tutor for the AWS DEA-C01 concise guide.

    Every answer sentence is checked against the guide sections it cites.

    Example:

        tutor ask "When should I pick Amazon EMR over AWS Glue?"
    """
    ctx.obj = {"config": config}


@cli.command()
@click.option("--rebuild", is_flag=True, help="Build even when the index is up to date.")
@setting_option("corpus_dir", "--corpus")
@setting_option("index_dir", "--index")
@click.pass_context
def index(
    ctx: click.Context, rebuild: bool, corpus_dir: Path | None, index_dir: Path | None
) -> None:
    """Parse the guide, embed its chunks and write the index.

    Example:

        tutor index --rebuild
    """
    from tutor.index import build_index, check_index

    settings = _settings(ctx, corpus_dir=corpus_dir, index_dir=index_dir)
    if not rebuild:
        try:
            m = check_index(settings)
            say(
                f"index in {settings.index_dir}/ is up to date ({m['chunk_count']} chunks); "
                "use --rebuild to build it anyway"
            )
            return
        except TutorError:
            pass
    built = build_index(settings, progress=say)
    click.echo(
        f"indexed {len(built.sections)} sections as {len(built.chunks)} chunks "
        f"in {settings.index_dir}/"
    )


def _print_sources(ans: Answer) -> None:
    if ans.abstained:
        return
    click.echo("\nSources:")
    for c in ans.citations:
        click.echo(f"[{c.n}] {c.section_path} ({c.file} lines {c.start_line}–{c.end_line})")
    dropped = [s for s in ans.sentences if not s.supported]
    if dropped:
        say(
            f"({len(dropped)} draft sentence(s) not shown: the cited passages do not support "
            "them, or they do not answer the question; see --json)"
        )


def _stream_answer(tutor: Tutor, question: str, **kw: Any) -> Answer:
    from tutor.answer import Answer, Retrieved, Sentence

    final = None
    sides: tuple[str, ...] = ()
    for ev in tutor.ask_stream(question, **kw):
        if isinstance(ev, Retrieved):
            if ev.standalone != ev.question:
                say(f"(understood as: {ev.standalone})")
            say(f"found {len(ev.passages)} passages; checking the answer against them…")
            sides = ev.sides if ev.shape == "compare" else ()
        elif isinstance(ev, Sentence):
            # one line each: a comparison as paired bullets named by side
            if ev.source == "note":
                click.echo(ev.text)
            elif sides and ev.side is not None:
                click.echo(f"- {sides[ev.side]}: {ev.marked}")
            else:
                click.echo(f"- {ev.marked}")
        elif isinstance(ev, Answer):
            final = ev
            if ev.abstained:
                click.echo(ev.answer, nl=False)
                say(f"\n(why: {ev.abstain_reason})")
    click.echo()
    assert final is not None
    _print_sources(final)
    return final


@cli.command()
@click.argument("question")
@setting_option("k", "--k")
@setting_option("model", "--model")
@setting_option("temperature")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    k: int | None,
    model: Path | None,
    temperature: float | None,
    as_json: bool,
) -> None:
    """Answer one question from the guide, citing its sections.

    Example:

        tutor ask "What is AWS Glue DataBrew used for?" --k 5 --json
    """
    from tutor.answer import validate_question

    settings = _settings(ctx, k=k, model=model, temperature=temperature)
    validate_question(question, settings)  # fail fast, before loading anything
    tutor = open_tutor(settings, load_model=False)
    if as_json:
        click.echo(json.dumps(tutor.ask(question).to_json(), indent=2, ensure_ascii=False))
    else:
        _stream_answer(tutor, question)


@cli.command()
@setting_option("k", "--k")
@setting_option("model", "--model")
@click.pass_context
def chat(ctx: click.Context, k: int | None, model: Path | None) -> None:
    """A conversation in the terminal; follow-up questions use the previous turn.

    Type /new to start over, /quit (or Ctrl-D) to leave.

    Example:

        tutor chat   then   > When should I use AWS Glue?   > and how is it billed?
    """
    from tutor.conversation import Turn

    tutor = open_tutor(_settings(ctx, k=k, model=model))
    history: list[Turn] = []
    click.echo("Ask about the DEA-C01 guide. /new starts over, /quit leaves.")
    while True:
        try:
            q = input("\n> ").strip()
        except EOFError:
            click.echo()
            return
        if q in ("/quit", "/exit"):
            return
        if q == "/new":
            history.clear()
            click.echo("(new conversation)")
            continue
        if not q:
            continue
        try:
            ans = _stream_answer(tutor, q, history=history)
        except TutorError as e:
            click.secho(str(e), fg="red", err=True)
            continue
        history.append(
            Turn(q, ans.standalone_question, ans.answer, [c.section_id for c in ans.citations])
        )


@cli.command()
@setting_option("corpus_dir", "--corpus")
@click.pass_context
def sections(ctx: click.Context, corpus_dir: Path | None) -> None:
    """Print the guide's section tree with ids and line ranges.

    Example:

        tutor sections | grep -i glue
    """
    from tutor.corpus import load_corpus

    settings = _settings(ctx, corpus_dir=corpus_dir)
    for f in load_corpus(settings.corpus_dir):
        click.echo(f.name)
        for s in f.sections:
            click.echo(
                f"{'  ' * (s.depth + 1)}{s.title}  [{s.id}] (lines {s.start_line}–{s.end_line})"
            )


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; the default keeps the tutor on this machine.",
)
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535))
@click.option("--share", is_flag=True, help="Also create a public Gradio share link (off).")
@setting_option("model", "--model")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, share: bool, model: Path | None) -> None:
    """Start the web tutor (chat, clickable citations, section browser).

    Example:

        tutor serve --port 7860   then open http://127.0.0.1:7860
    """
    settings = _settings(ctx, model=model)
    from tutor.generate import check_gguf

    check_gguf(settings.gguf_path())  # a bad --model fails here, not in the page
    from tutor.web import build_app, launch

    click.echo(f"tutor: serving on http://{host}:{port} (Ctrl-C to stop)", err=True)
    launch(build_app(settings), host=host, port=port, share=share)


def _git_commit() -> str | None:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() + ("+dirty" if dirty else "")) or None


def gold_option(help: str) -> Callable[[Any], Any]:
    return click.option(
        "--gold",
        type=click.Path(path_type=Path),
        default=Path("evals/gold.jsonl"),
        show_default=True,
        help=help,
    )


def load_valid_gold(gold: Path, settings: Settings) -> tuple[list[Any], Any]:
    """The gold questions and the corpus, or a TutorError listing every problem."""
    from tutor.evals.gold import Corpus, load_gold
    from tutor.evals.gold import check_gold as validate

    items = load_gold(gold)
    corpus = Corpus(settings.corpus_dir)
    problems = validate(items, corpus)
    if problems:
        raise TutorError(f"{gold} has {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return items, corpus


@cli.command(name="eval")
@gold_option("Gold questions (JSONL).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Report folder [default: evals/reports/<timestamp>/]",
)
@setting_option("k", "--k")
@setting_option("model", "--model")
@click.option(
    "--split",
    type=click.Choice(["calibration", "test", "all"]),
    default="test",
    show_default=True,
    help="Which gold questions: the calibration split (thresholds and weights are fitted "
    "on it), the held-out test split, or all.",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Only the first N questions."
)
@click.option("--check-gold", is_flag=True, help="Only validate the gold file, then exit.")
@click.option(
    "--compare",
    nargs=2,
    type=click.Path(path_type=Path),
    default=None,
    metavar="OLD NEW",
    help="Compare two reports (folders or report.json files).",
)
@click.pass_context
def eval_cmd(
    ctx: click.Context,
    gold: Path,
    out: Path | None,
    k: int | None,
    model: Path | None,
    split: str,
    limit: int | None,
    check_gold: bool,
    compare: tuple[Path, Path] | None,
) -> None:
    """Score retrieval, citations, grounding, answers and abstention on gold questions.

    Every question goes through the same pipeline as `tutor ask`. Writes report.json,
    report.md and report.html.

    Example:

        tutor eval --split test --out /tmp/run1 && tutor eval --compare evals/baseline /tmp/run1
    """
    import dataclasses
    import time

    from tutor.evals import report as rep
    from tutor.evals.gold import select_split

    if compare:
        for line in rep.compare(rep.load_report(compare[0]), rep.load_report(compare[1])):
            click.echo(line)
        return
    settings = _settings(ctx, k=k, model=model)
    items, corpus = load_valid_gold(gold, settings)
    if check_gold:
        from collections import Counter

        for name in ("kind", "style", "split"):
            counts = Counter(getattr(g, name) for g in items)
            click.echo(f"  by {name}: {dict(sorted(counts.items()))}")
        click.echo(f"{gold}: {len(items)} questions, valid")
        return
    from tutor.evals.run import by_field, latency_detail, risk_coverage, run_eval, summarise

    items = select_split(items, split)
    items = items[:limit] if limit else items
    tutor = open_tutor(settings)
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    t0 = time.perf_counter()
    with click.progressbar(
        length=len(items), label="asking", file=sys.stderr, show_pos=True
    ) as bar:
        records = run_eval(tutor, items, corpus, settings.k, progress=lambda _g: bar.update(1))
    wall = time.perf_counter() - t0
    summary = summarise(records)
    summary["split"] = split
    report: dict[str, Any] = {
        "summary": summary,
        "by_split": by_field(records, "split"),
        "by_kind": by_field(records, "kind"),
        "by_style": by_field(records, "style"),
        "risk_coverage": risk_coverage(records),
        "latency": latency_detail(records),
        "meta": {
            "started": started,
            "wall_s": round(wall, 1),
            "k": settings.k,
            "model": str(settings.gguf_path()),
            "git_commit": _git_commit(),
            "gold": str(gold),
            "settings": {
                f: str(v) if isinstance(v, Path) else v
                for f, v in dataclasses.asdict(settings).items()
            },
            "index_manifest": tutor.index.manifest,
            "calibration": tutor.calibration.fitted,
        },
        "questions": records,
    }
    out = out or Path("evals/reports") / started.replace(":", "")
    rep.write_reports(out, report)
    for key, value in rep._flat(report["summary"]):
        click.echo(f"{key:<36} {rep._fmt(value)}")
    click.echo(f"{len(items)} questions ({split} split) in {wall:.0f} s; wrote {out}/report.html")


@cli.command()
@gold_option("Gold questions (JSONL); only their calibration split is used.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the calibration [default: the package's data/calibration.json]",
)
@setting_option("k", "--k")
@click.pass_context
def calibrate(ctx: click.Context, gold: Path, out: Path | None, k: int | None) -> None:
    """Fit the relevance and answerability weights and thresholds on the calibration split.

    No model call: the real retrieval scores every candidate sentence. The test split is
    never read, so `tutor eval --split test` reports unseen questions.

    Example:

        tutor calibrate && tutor eval --split test
    """
    import json as _json

    from tutor.evals.calibrate import fit
    from tutor.evals.gold import select_split

    settings = _settings(ctx, k=k)
    items, _ = load_valid_gold(gold, settings)
    tutor = open_tutor(settings, load_model=False)
    cal, info = fit(tutor, select_split(items, "calibration"), settings.k, "calibration")
    if out is None:
        from importlib import resources

        out = Path(str(resources.files("tutor").joinpath("data", "calibration.json")))
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(_json.dumps(cal.to_json(), indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)  # never a half-written calibration
    click.echo(
        f"fitted on {info['questions']} calibration questions ({info['unanswerable']} "
        f"unanswerable, {info['relevant_sentences']}/{info['sentences']} relevant "
        f"sentences): show >= {cal.show} (or {cal.relative} x the best), answer >= "
        f"{cal.answer}; cross-validated abstention {info['cv_abstention']}; wrote {out}"
    )


def main() -> None:
    cli(prog_name="tutor")


if __name__ == "__main__":
    main()
