"""Adapters: the flat layout, the batched per-row LoRA layer, merging, standard LoRA files, the stacked
weights store and batched sampling of many adapters. Used by the fleet, the space, inversion and
evaluation; depends on nothing above `base`."""
