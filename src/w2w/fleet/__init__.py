"""The fleet: one adapter per identity, trained in batches from one shared initialisation, in shard
jobs that resume; its measurement is w2w.evaluate.finetune."""
