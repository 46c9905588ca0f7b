"""Bad input at the command line: one clear message, a non-zero exit, no traceback."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tutor.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ask", ""], "The question is empty"),
        (["ask", "   \n\t "], "The question is empty"),
        (["ask", "why " * 400], "the limit is 1000"),
        (["ask", "What is Glue?", "--model", "/nowhere/model.gguf"], "does not exist"),
        (["ask", "What is Glue?", "--k", "0"], "out of range"),
    ],
)
def test_bad_questions_and_options(args, needle):
    r = run(*args)
    assert r.exit_code == 1
    assert needle in r.output and "Traceback" not in r.output


def test_not_a_gguf_file(tmp_path: Path):
    fake = tmp_path / "model.gguf"
    fake.write_text("this is not a model")
    r = run("ask", "What is Glue?", "--model", str(fake))
    assert r.exit_code == 1 and "is not a GGUF file" in r.output


def test_empty_corpus_folder(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    r = run("index", "--corpus", str(tmp_path / "empty"), "--index", str(tmp_path / "ix"))
    assert r.exit_code == 1 and "holds no .md or .txt file" in r.output
    assert not (tmp_path / "ix").exists()


def test_non_utf8_corpus_file(tmp_path: Path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "guide.md").write_bytes("# Caf\xe9\n".encode("latin-1"))
    r = run("index", "--corpus", str(tmp_path / "c"), "--index", str(tmp_path / "ix"))
    assert r.exit_code == 1 and "guide.md is not UTF-8" in r.output and "iconv" in r.output
    assert not (tmp_path / "ix").exists()


def test_no_traceback_from_the_real_console_script():
    exe = Path(sys.executable).with_name("tutor")
    p = subprocess.run([str(exe), "ask", " "], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert p.stderr.strip() == "Error: The question is empty: type a question about the guide."


@pytest.mark.slow
def test_missing_index_file_names_the_command(tmp_path: Path, session_settings, built_index):
    shutil.copytree(session_settings.index_dir, tmp_path / "index")
    shutil.copytree(session_settings.corpus_dir, tmp_path / "corpus")
    (tmp_path / "index" / "chunks.jsonl").unlink()
    r = run("ask", "What is AWS Glue?")
    assert r.exit_code == 1
    assert "chunks.jsonl" in r.output and "tutor index --rebuild" in r.output


# imported only to build the index or fit the calibration, never to answer a question
BUILD_ONLY = {
    "torch",
    "transformers",
    "sentence_transformers",
    "sklearn",
    "scipy",
    "langchain_text_splitters",
    "pandas",
}
# runs `tutor ask` as the console script does, then lists the top-level modules it loaded
# and, as "<gguf>", whether a llama.cpp model was loaded (Llama.__init__ is counted)
PROBE = """
import json, sys
import llama_cpp
models = []
_init = llama_cpp.Llama.__init__
def counted(self, *a, **k):
    models.append(k.get("model_path"))
    _init(self, *a, **k)
llama_cpp.Llama.__init__ = counted
from tutor.cli import main
out, sys.argv = sys.argv[1], ["tutor", *sys.argv[2:]]
try:
    main()
finally:
    names = {m.split(".")[0] for m in sys.modules} | ({"<gguf>"} if models else set())
    with open(out, "w") as fh:
        json.dump(sorted(names), fh)
"""
GGUF_MAPPED = "<gguf>"


def ask_in_a_new_process(tmp_path: Path, settings, question: str) -> tuple[str, set[str]]:
    env = {
        **os.environ,
        "TUTOR_INDEX_DIR": str(settings.index_dir),
        "TUTOR_CORPUS_DIR": str(settings.corpus_dir),
    }
    out = tmp_path / "modules.json"
    p = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), "ask", question],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    return p.stdout, set(json.loads(out.read_text()))


@pytest.mark.slow
def test_ask_imports_no_torch_and_loads_the_model_only_to_answer(
    tmp_path: Path, session_settings, built_index
):
    # two guide lines answer it, so the model is asked to add to them
    stdout, loaded = ask_in_a_new_process(tmp_path, session_settings, "What is key salting?")
    assert re.search(r"^- .*\[\d\]$", stdout, re.M), stdout  # cited guide lines
    assert "salt" in stdout.lower()
    assert loaded & BUILD_ONLY == set()
    assert {"onnxruntime", GGUF_MAPPED} <= loaded  # the question embedder, and the model

    stdout, loaded = ask_in_a_new_process(
        tmp_path, session_settings, "Who won the FIFA World Cup in 2018?"
    )
    assert stdout.startswith("The guide does not cover this.")
    assert loaded & BUILD_ONLY == set()
    # the llama.cpp library is imported (in the background), but no GGUF was loaded
    assert GGUF_MAPPED not in loaded and "onnxruntime" in loaded


def test_every_command_has_help_with_an_example():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name in cli.commands:
        r = run(name, "--help")
        assert r.exit_code == 0 and "Example" in r.output, name
        assert f"tutor {name}" in readme, f"README does not mention `tutor {name}`"


def test_help_does_not_import_torch():
    code = "import sys; from tutor.cli import cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_a_compared_line_is_named_by_its_side_unless_its_label_names_it():
    from tutor.cli import paired_line

    assert paired_line("EMR", "Amazon EMR: A more flexible environment.") == (
        "Amazon EMR: A more flexible environment."
    )
    assert paired_line("batch", "Periodic: is a batch of data.") == (
        "batch: Periodic: is a batch of data."
    )
    assert (
        paired_line("Glue", "Suitable for serverless ETL.") == "Glue: Suitable for serverless ETL."
    )
