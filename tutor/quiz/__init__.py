"""Practice mode: the item bank from the guide (items.py), its quality gates (check.py),
scheduling (schedule.py) and progress (progress.py)."""
