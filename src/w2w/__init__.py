"""w2w: a reproducible, data-versioned implementation of weights2weights."""

__version__ = "0.1.0"
