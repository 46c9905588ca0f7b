"""The models a shared page offers, by name, and the cap on how many stay loaded.

A page served to a class must never take a server path from the browser: a visitor who
could name any file would learn which files exist (from "does not exist" / "is not a
GGUF file") and could make the server load every GGUF it finds, for good. So the page
offers a list the operator configures, and a visitor picks a name from it:

- the default drafter (the packaged GGUF, `--model`, or the server backend's model);
- every `*.gguf` file directly in `--models-dir` (by file name; a GGUF there always runs
  in this process, whatever the backend).

`Models.get(name)` returns a drafter for a listed name; any other name, including a
path, gets one message that says only that the name is not offered. Extra models load on
first use and at most `max_loaded_models` stay loaded: the least recently used one is
dropped (a question still streaming from it keeps its own reference until it ends).

Limits: the folder is listed once, when the page starts; files added later need a
restart. Names are file names, so two folders cannot be offered at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from tutor.config import Settings
from tutor.errors import TutorError
from tutor.generate import Drafter, drafter_for


def gguf_files(folder: Path | None) -> dict[str, Path]:
    """{file name: path} for the .gguf files directly in `folder` (none if unset)."""
    if folder is None:
        return {}
    if not folder.is_dir():
        raise TutorError(
            f"--models-dir {folder} is not a folder: point it at a folder of .gguf files."
        )
    return {p.name: p for p in sorted(folder.glob("*.gguf")) if p.is_file()}


class Models:
    """The page's model choices: the default drafter plus the GGUFs of `models_dir`."""

    def __init__(
        self,
        settings: Settings,
        default: Drafter,
        make: Callable[[Settings], Drafter] = drafter_for,
    ) -> None:
        self.settings = settings
        self.default = default
        self._files = gguf_files(settings.models_dir)
        self._files.pop(default.name, None)  # the default is offered once, as the default
        self._make = make
        self._loaded: OrderedDict[str, Drafter] = OrderedDict()
        self._lock = threading.Lock()
        self.cap = settings.max_loaded_models

    def names(self) -> list[str]:
        """Every name a visitor may choose, the default first."""
        return [self.default.name, *self._files]

    def loaded(self) -> list[str]:
        """The extra models loaded now, least recently used first."""
        with self._lock:
            return list(self._loaded)

    def get(self, name: str | None) -> Drafter:
        """The drafter for a listed name (empty: the default). Loads it if needed; an
        unlisted name is refused without saying anything about the server's files."""
        name = (name or "").strip()
        if not name or name == self.default.name:
            return self.default
        if name not in self._files:
            raise TutorError(
                f"{name[:80]!r} is not one of this tutor's models. Choose one of: "
                f"{', '.join(self.names())}."
            )
        with self._lock:
            drafter = self._loaded.get(name)
            if drafter is not None:
                self._loaded.move_to_end(name)
                return drafter
        # a GGUF of the folder always runs here, whatever the default backend is
        try:
            drafter = self._make(self.settings.with_overrides(model=self._files[name], llm_url=""))
            drafter.warm_up()
        except TutorError:  # its message names the file: not for a visitor
            raise TutorError(
                f"The model {name!r} could not be loaded; choose another, or ask the "
                "operator to check the file."
            ) from None
        with self._lock:
            self._loaded[name] = drafter
            self._loaded.move_to_end(name)
            while len(self._loaded) > self.cap:
                self._loaded.popitem(last=False)  # the least recently used
            return drafter
