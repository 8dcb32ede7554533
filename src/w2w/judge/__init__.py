"""The judge: attribute and identity scorer used by every evaluation."""

from w2w.judge.api import Judge, attributes, identity_similarity

__all__ = ["Judge", "attributes", "identity_similarity"]
