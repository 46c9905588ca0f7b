"""Evaluation against gold questions: `gold` (load and validate), `metrics` (pure
functions), `run` (drive the real pipeline, score every question), `report` (JSON,
Markdown, HTML, compare)."""
