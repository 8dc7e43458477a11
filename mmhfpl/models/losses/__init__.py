"""Losses of mmhfpl, each a registered module over a functional core."""
