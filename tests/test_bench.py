"""The benchmark times the code it imported (fast, no models)."""

from __future__ import annotations


def test_timed_cli_processes_import_the_tutor_the_bench_imported(monkeypatch):
    import os
    from pathlib import Path

    import tutor
    from tutor.bench import same_code_env

    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = same_code_env()
    root = str(Path(tutor.__file__).resolve().parents[1])
    # this checkout's package first (an editable install's script would import the
    # installed project), what was already there after it
    assert env["PYTHONPATH"].split(os.pathsep) == [root, "/elsewhere"]
    monkeypatch.delenv("PYTHONPATH")
    assert same_code_env()["PYTHONPATH"] == root
