"""The `tutor` command line.

Commands: `index`, `ask`, `chat`, `sections`, `quiz` (with `next`, `answer`, `check`),
`progress`, `serve`, `eval`, `calibrate`.
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

from tutor.config import FIELDS, Settings, kind_of, load_settings
from tutor.errors import TutorError

if TYPE_CHECKING:
    from datetime import datetime

    from tutor.answer import Answer, Tutor
    from tutor.quiz.items import Item
    from tutor.quiz.session import Graded, Learner


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


def paired_line(side: str, line: str) -> str:
    """A compared line as a CLI bullet, named by its side ("batch: Periodic: ..."),
    unless its own label already names it ("Amazon EMR: ..." for the side "EMR" is not
    shown as "EMR: Amazon EMR: ...")."""
    label, colon, _ = line.partition(":")
    if colon and side.lower() in label.lower():
        return line
    return f"{side}: {line}"


def setting_option(name: str, *decls: str) -> Callable[[Any], Any]:
    """A click option whose help text and type come from the Settings field."""
    f = FIELDS[name]
    kind = kind_of(name)
    return click.option(
        *(decls or (f"--{name.replace('_', '-')}",)),
        name,
        type=click.Path(path_type=Path) if kind is Path else kind,
        default=None,
        help=f"{f.metadata['help']} [default: {f.default}]",
    )


BACKEND = ("model", "llm_url", "llm_model", "llm_connect_timeout", "llm_read_timeout")


def backend_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The flags that choose the model: a GGUF in this process (`--model`), or an
    OpenAI-compatible server (`--llm-url`, `--llm-model` and its timeouts)."""
    for name in reversed(BACKEND):
        command = setting_option(name)(command)
    return command


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
    from tutor.generate import drafter_for
    from tutor.index import ensure_index

    drafter = drafter_for(settings)  # a bad --model or --llm-url fails before the index loads
    drafter.check()  # and so does a server that is down or lacks the model
    if load_model:
        drafter.warm_up()
    index, _ = ensure_index(settings, Embedder(), progress=say)
    tutor = Tutor(settings, index, generator=drafter)
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
                click.echo(f"- {paired_line(sides[ev.side], ev.marked)}")
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
@backend_options
@setting_option("temperature")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    k: int | None,
    temperature: float | None,
    as_json: bool,
    **backend: Any,
) -> None:
    """Answer one question from the guide, citing its sections.

    Example:

        tutor ask "What is AWS Glue DataBrew used for?" --k 5 --json

    With a model server: tutor ask "What is Amazon MSK?" --llm-url http://127.0.0.1:8080/v1
    """
    from tutor.answer import validate_question

    settings = _settings(ctx, k=k, temperature=temperature, **backend)
    validate_question(question, settings)  # fail fast, before loading anything
    tutor = open_tutor(settings, load_model=False)
    if as_json:
        click.echo(json.dumps(tutor.ask(question).to_json(), indent=2, ensure_ascii=False))
    else:
        _stream_answer(tutor, question)


@cli.command()
@setting_option("k", "--k")
@backend_options
@click.pass_context
def chat(ctx: click.Context, k: int | None, **backend: Any) -> None:
    """A conversation in the terminal; follow-up questions use the previous turn.

    Type /new to start over, /quit (or Ctrl-D) to leave.

    Example:

        tutor chat   then   > When should I use AWS Glue?   > and how is it billed?
    """
    from tutor.conversation import Turn

    tutor = open_tutor(_settings(ctx, k=k, **backend))
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
@backend_options
@setting_option("progress", "--progress")
@setting_option("models_dir", "--models-dir")
@setting_option("max_loaded_models", "--max-loaded-models")
@setting_option("concurrency", "--concurrency")
@setting_option("session_questions", "--session-questions")
@setting_option("auth_file", "--auth-file")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, share: bool, **options: Any) -> None:
    """Start the web tutor (chat with clickable citations, section browser, practice).

    For a class: --host 0.0.0.0 with logins (TUTOR_AUTH=user:password or --auth-file),
    --models-dir to offer more GGUF models by name, --llm-url for a model server and
    --concurrency for how many of its replies run at once.

    Example:

        tutor serve --port 7860   then open http://127.0.0.1:7860
    """
    settings = _settings(ctx, **options)
    from tutor.generate import drafter_for
    from tutor.generate.models import gguf_files
    from tutor.quiz.progress import open_progress
    from tutor.web.app import build_app, exposure_warning, launch, logins

    drafter_for(settings)  # a bad --model or --llm-url fails here, not in the page
    gguf_files(settings.models_dir)  # and so does a bad --models-dir
    with open_progress(settings.progress_path()):
        pass  # and a corrupt or newer progress file
    auth = logins(settings)  # and a malformed login
    if warning := exposure_warning(host, share, bool(auth)):
        click.echo(f"tutor: {warning}", err=True)
    click.echo(f"tutor: serving on http://{host}:{port} (Ctrl-C to stop)", err=True)
    launch(build_app(settings), host=host, port=port, share=share, auth=auth)


def profile_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--profile",
        default=None,
        help="Whose progress: a name of your choice [default: default]",
    )(f)


def _bank(settings: Settings) -> list[Item]:
    """The quiz item bank; the index (and the bank with it) is built first when missing."""
    from tutor.errors import IndexMissing, IndexStale
    from tutor.index import check_index
    from tutor.quiz.items import load_bank

    try:
        check_index(settings)
    except (IndexMissing, IndexStale):
        from tutor.embed import Embedder
        from tutor.index import ensure_index

        ensure_index(settings, Embedder(), progress=say)
    return load_bank(settings.index_dir)


def _learner(settings: Settings, profile: str | None) -> Learner:
    from tutor.quiz.progress import DEFAULT_PROFILE
    from tutor.quiz.schedule import Schedule
    from tutor.quiz.session import Learner

    return Learner(
        _bank(settings), settings.progress_path(), profile or DEFAULT_PROFILE, Schedule()
    )


def _when(t: datetime | None, now: datetime) -> str:
    """'now', 'in 10 min', 'in 3 days' (with the UTC time)."""
    if t is None:
        return "nothing scheduled"
    secs = (t - now).total_seconds()
    if secs <= 0:
        return "now"
    unit, n = "min", max(1, round(secs / 60))
    for name, size in (("day", 86400), ("hour", 3600)):
        if secs >= size:
            unit, n = name, round(secs / size)
            break
    plural = "s" if n != 1 and unit != "min" else ""
    return f"in {n} {unit}{plural} ({t:%Y-%m-%d %H:%M} UTC)"


def _print_item(item: Item, where: str) -> None:
    from tutor.quiz.items import LETTERS

    task = f", task {item.task}" if item.task else ""
    click.secho(f"\n{where} · domain {item.domain}{task} · {item.kind}", dim=True)
    click.secho(item.stem, bold=True)
    for letter, option in zip(LETTERS, item.options, strict=False):
        click.echo(f"  {letter}) {option}")


def _print_graded(g: Graded, now: datetime) -> None:
    item, c = g.item, g.item.citation
    key = item.options["ABCD".index(item.answer)]
    if g.correct:
        click.secho(f"Right: {item.answer}) {key}", fg="green")
    else:
        click.secho(f"Wrong: the answer is {item.answer}) {key}", fg="red")
    click.echo(f"  The guide: {item.explanation}")
    click.echo(f"  Reread: {c.section_path} (lines {c.start_line}–{c.end_line})")
    click.secho(f"  Next review of this item: {_when(g.next_due, now)}", dim=True)


@cli.group(invoke_without_command=True)
@click.option(
    "--n",
    "n",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="How many items to ask.",
)
@click.option("--domain", type=int, default=None, help="Only this domain (1–4; 0 = fundamentals).")
@click.option("--task", default=None, help="Only this task statement, e.g. 3.2.")
@profile_option
@setting_option("progress", "--progress")
@click.pass_context
def quiz(
    ctx: click.Context,
    n: int,
    domain: int | None,
    task: str | None,
    profile: str | None,
    progress: Path | None,
) -> None:
    """Practise with exam-style items from the guide, scheduled by spaced repetition.

    Without a subcommand: an interactive session. Each item shows a stem and options;
    type a letter (or q to stop). A wrong answer shows the guide's line and where to
    reread it. Due reviews come first, then new items by the exam's domain weights,
    favouring your weakest tasks.

    Example:

        tutor quiz --n 5 --domain 2      tutor quiz next --json
    """
    ctx.obj = {**(ctx.obj or {}), "progress": progress}
    if ctx.invoked_subcommand is not None:
        return
    learner = _learner(_settings(ctx, progress=progress), profile)
    scope = learner.scope(domain, task)
    click.echo(
        f"Practice from {scope.label}, profile {learner.profile!r}: up to {n} items. "
        "Type a letter, or q to stop."
    )
    seen: set[str] = set()
    right = asked = 0
    while asked < n:
        pick = learner.next(scope, seen)
        if pick is None:
            click.echo("\nNothing more to practise here now: every item has been met, none is due.")
            break
        item = pick.item
        _print_item(item, f"{asked + 1}/{n} · {'review' if pick.reason == 'due' else 'new'}")
        graded = None
        while graded is None:
            try:
                raw = input("> ").strip()
            except EOFError:
                raw = "q"
            if raw.lower() in ("q", "quit", "/quit"):
                break
            try:
                graded = learner.answer(item.id, raw)
            except TutorError as e:  # part of the dialogue: ask again
                click.secho(str(e), fg="yellow")
        if graded is None:
            break
        seen.add(item.id)
        asked += 1
        right += graded.correct
        _print_graded(graded, learner.schedule.now())
    report = learner.report()
    share = f" ({right / asked:.0%})" if asked else ""
    click.echo(f"\nScore: {right}/{asked}{share}.")
    later = _when(report.next_due, learner.schedule.now())
    click.echo(
        f"Due now: {report.due} item(s); next review {later}."
        f" Readiness estimate: {report.readiness:.0%}. See `tutor progress`."
    )


@quiz.command(name="next")
@profile_option
@click.option("--domain", type=int, default=None, help="Only this domain (1–4; 0 = fundamentals).")
@click.option("--task", default=None, help="Only this task statement, e.g. 3.2.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@setting_option("progress", "--progress")
@click.pass_context
def quiz_next(
    ctx: click.Context,
    profile: str | None,
    domain: int | None,
    task: str | None,
    as_json: bool,
    progress: Path | None,
) -> None:
    """Show the next item for a profile, without its answer.

    Example:

        tutor quiz next --profile alice --task 1.2 --json
    """
    from tutor.quiz.session import public_json

    learner = _learner(_settings(ctx, progress=progress or ctx.obj.get("progress")), profile)
    scope = learner.scope(domain, task)
    pick = learner.next(scope)
    if pick is None:
        report = learner.report()
        raise TutorError(
            f"Nothing to practise in {scope.label} now: every item has been met and none is "
            f"due; the next review is {_when(report.next_due, learner.schedule.now())}."
        )
    if as_json:
        click.echo(json.dumps(public_json(pick.item), ensure_ascii=False))
    else:
        _print_item(pick.item, f"{pick.item.id} · {pick.reason}")


@quiz.command(name="answer")
@click.argument("item_id")
@click.argument("letter")
@profile_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@setting_option("progress", "--progress")
@click.pass_context
def quiz_answer(
    ctx: click.Context,
    item_id: str,
    letter: str,
    profile: str | None,
    as_json: bool,
    progress: Path | None,
) -> None:
    """Answer one item by its id; prints right or wrong, the guide's line and its citation.

    Example:

        tutor quiz answer 3f2a9c1e B --json
    """
    learner = _learner(_settings(ctx, progress=progress or ctx.obj.get("progress")), profile)
    graded = learner.answer(item_id, letter)
    if as_json:
        click.echo(json.dumps(graded.to_json(), ensure_ascii=False))
    else:
        _print_graded(graded, learner.schedule.now())


@quiz.command(name="check")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def quiz_check(ctx: click.Context, as_json: bool) -> None:
    """Measure the item bank's quality gates (size, keys, distractors, duplicates, solver).

    Example:

        tutor quiz check --json
    """
    from tutor.embed import Embedder
    from tutor.index import ensure_index
    from tutor.quiz.check import check_bank
    from tutor.quiz.items import load_bank

    settings = _settings(ctx)
    embedder = Embedder()
    index, _ = ensure_index(settings, embedder, progress=say)
    result = check_bank(index, load_bank(settings.index_dir), embedder=embedder)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        for key, value in result.items():
            click.echo(f"{key:<24} {value}")


@cli.command(name="progress")
@profile_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--export",
    "export_to",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the profile's progress to this JSON file.",
)
@click.option(
    "--import",
    "import_from",
    type=click.Path(path_type=Path),
    default=None,
    help="Merge a JSON export into the progress database.",
)
@setting_option("progress", "--progress")
@click.pass_context
def progress_cmd(
    ctx: click.Context,
    profile: str | None,
    as_json: bool,
    export_to: Path | None,
    import_from: Path | None,
    progress: Path | None,
) -> None:
    """Show mastery per domain and task, the items due and a readiness estimate.

    Mastery = share right over the last 20 answers (fewer than 5 count as if the rest
    were wrong) x FSRS retrievability. Readiness weights domains 34/26/22/18%.

    Example:

        tutor progress --profile alice --json      tutor progress --export backup.json
    """
    from tutor.quiz.progress import DEFAULT_PROFILE, open_progress

    settings = _settings(ctx, progress=progress)
    path = settings.progress_path()
    name = profile or DEFAULT_PROFILE
    if import_from is not None:
        try:
            data = json.loads(import_from.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TutorError(
                f"Cannot read {import_from} as JSON ({e}); nothing was imported."
            ) from None
        with open_progress(path) as db:
            added = db.import_json(data, str(import_from))
        for who, count in added.items():
            say(f"imported {count} new answer(s) into profile {who!r} in {path}")
        if profile is None and len(added) == 1:
            name = next(iter(added))
    if export_to is not None:
        with open_progress(path) as db:
            data = db.export_json([db.require_profile(name)])
        tmp = export_to.with_name(export_to.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(export_to)
        answers = len(data["profiles"][name]["reviews"])
        say(f"wrote profile {name!r} ({answers} answers) to {export_to}")
        if not as_json:
            return
    learner = _learner(settings, name)
    report = learner.report(must_exist=True)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        return
    from tutor.quiz.schedule import DOMAIN_NAMES

    now = learner.schedule.now()
    click.echo(f"Profile {name!r} ({path})")
    click.echo(f"{'':<44} {'items':>5} {'seen':>5} {'right':>6} {'mastery':>8} {'due':>4}")
    for d, s in report.domains.items():
        click.secho(_row(f"Domain {d}: {DOMAIN_NAMES.get(d, '')}", s), bold=True)
        for t, ts in report.tasks.items():
            if t.startswith(f"{d}."):
                click.echo(_row(f"  task {t}", ts))
    click.echo(
        f"\nReadiness estimate: {report.readiness:.0%}. Due now: {report.due}; "
        f"next review {_when(report.next_due, now)}."
    )


def _row(label: str, s: Any) -> str:
    right = f"{s.correct_share:.0%}" if s.reviews else "–"
    return f"{label[:44]:<44} {s.items:>5} {s.seen:>5} {right:>6} {s.mastery:>8.0%} {s.due:>4}"


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
@backend_options
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
    split: str,
    limit: int | None,
    check_gold: bool,
    compare: tuple[Path, Path] | None,
    **backend: Any,
) -> None:
    """Score retrieval, citations, grounding, answers and abstention on gold questions.

    Every question goes through the same pipeline as `tutor ask`. Writes report.json,
    report.md and report.html.

    Example:

        tutor eval --split test --out /tmp/run1 && tutor eval --compare evals/baseline /tmp/run1
    """
    import time

    from tutor.evals import report as rep
    from tutor.evals.gold import select_split

    if compare:
        for line in rep.compare(rep.load_report(compare[0]), rep.load_report(compare[1])):
            click.echo(line)
        return
    settings = _settings(ctx, k=k, **backend)
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
            "model": tutor.generator.name,
            "git_commit": _git_commit(),
            "gold": str(gold),
            "settings": settings.public(),
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
