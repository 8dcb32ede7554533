"""Every measurement: one module per evaluation stage (base, finetune, directions, edits, inversion,
sampling), the context they open, what the judge sees in samples, and the report."""
