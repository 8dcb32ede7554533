"""The weights2weights space: the PCA basis, attribute directions, edit, sample, invert."""
