"""User-facing errors.

A `TutorError` carries a message that says what is wrong and what to do. The CLI turns it
into one line on stderr and a non-zero exit; the web UI shows it in the page. Anything
else that escapes is a bug.
"""


class TutorError(Exception):
    """A problem the user can fix; the message names the fix."""


class IndexMissing(TutorError):
    """The index folder has no built index."""


class IndexStale(TutorError):
    """The index was built from another corpus, model or format."""


class IndexCorrupt(TutorError):
    """An index file is missing or unreadable although the manifest is there."""
