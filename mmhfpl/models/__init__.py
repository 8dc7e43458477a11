"""Models of mmhfpl: classifiers, heads, backbones and losses."""
