"""w2w: a reproducible, data-versioned implementation of weights2weights."""

__version__ = "0.1.0"

import os

# transformers warns at import about optional image backends this project never uses.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
