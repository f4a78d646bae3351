"""Jinja code generated from templates/manifests (see precompiled.py)."""
