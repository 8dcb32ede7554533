"""Evaluation of the weights2weights claims: edits, inversion and sampling, against baselines."""
