"""The web tutor (`tutor serve`): `app.py` builds and launches the page, `chat.py` and
`practice.py` build its tabs, `render.py` makes (and escapes) all of its HTML.

Nothing else in the package imports this one."""
