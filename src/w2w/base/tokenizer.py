"""A CLIP tokenizer built locally from the world's vocabulary; nothing is downloaded.

CLIP's BPE splits a word into characters (the last one suffixed `</w>`) and applies merges in
rank order. Listing, for every vocabulary word, the merges that rebuild it left to right makes each
known word a single token; unknown words fall back to single characters, which are all in the
vocabulary too.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from transformers import CLIPTokenizer

SPECIAL = ("<|startoftext|>", "<|endoftext|>")


def _word_merges(word: str) -> list[tuple[str, str]]:
    symbols = list(word[:-1]) + [word[-1] + "</w>"]
    merges, left = [], symbols[0]
    for right in symbols[1:]:
        merges.append((left, right))
        left += right
    return merges


def build_clip_tokenizer(words: list[str], folder: Path, max_length: int = 32) -> CLIPTokenizer:
    """Write vocab.json/merges.txt for `words` into `folder` and load them as a CLIPTokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = string.ascii_lowercase + string.digits + ",.'-!?"
    tokens: list[str] = [*chars, *(c + "</w>" for c in chars)]
    merges: list[tuple[str, str]] = []
    for word in sorted({w.lower() for w in words if w}):
        for pair in _word_merges(word):
            if pair not in merges:
                merges.append(pair)
                tokens.append(pair[0] + pair[1])
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys([*tokens, *SPECIAL]))}
    (folder / "vocab.json").write_text(json.dumps(vocab, indent=0, sort_keys=True))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                              model_max_length=max_length, pad_token="<|endoftext|>")
    tokenizer.save_pretrained(folder)
    return tokenizer
