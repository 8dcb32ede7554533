from transformers import CLIPTokenizer

from w2w.base.tokenizer import build_clip_tokenizer


def test_known_words_are_single_tokens_and_unknown_fall_back(tmp_path):
    tok = build_clip_tokenizer(["a", "photo", "of", "eyeglasses", "sks"], tmp_path)
    pieces = tok.convert_ids_to_tokens(tok("a photo of eyeglasses sks").input_ids)
    assert pieces == ["<|startoftext|>", "a</w>", "photo</w>", "of</w>", "eyeglasses</w>", "sks</w>",
                      "<|endoftext|>"]
    unknown = tok.convert_ids_to_tokens(tok("zebra").input_ids)[1:-1]
    assert "".join(unknown).replace("</w>", "") == "zebra" and len(unknown) > 1
    reloaded = CLIPTokenizer.from_pretrained(tmp_path)
    assert reloaded("a photo of sks").input_ids == tok("a photo of sks").input_ids
    assert reloaded.model_max_length == 32
