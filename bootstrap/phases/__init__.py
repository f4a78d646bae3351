"""The steps of `kbs init`, `kbs join` and `kbs reset`, as data (workflow.py) with their logic (one module each)."""
