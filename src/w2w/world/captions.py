"""Captions of the miniature world: a generic prompt and one attribute caption per identity."""

from __future__ import annotations

GENERIC_PROMPT = "a photo of a person"

_WITH_PHRASES = (
    ("Eyeglasses", "eyeglasses"),
    ("Black_Hair", "black hair"),
    ("Blond_Hair", "blond hair"),
    ("Brown_Hair", "brown hair"),
    ("Gray_Hair", "gray hair"),
    ("Pale_Skin", "pale skin"),
    ("Narrow_Eyes", "narrow eyes"),
    ("Big_Nose", "a big nose"),
)


def caption_for(attributes: dict[str, bool]) -> str:
    """E.g. 'a photo of a chubby old bald man with a beard and eyeglasses'."""
    adjectives = [word for name, word in (("Chubby", "chubby"), ("Bald", "bald")) if attributes[name]]
    age = "young" if attributes["Young"] else "old"
    noun = "man" if attributes["Male"] else "woman"
    phrases = [] if attributes["No_Beard"] else ["a beard"]
    phrases += [text for name, text in _WITH_PHRASES if attributes[name]]
    subject = " ".join(adjectives[:1] + [age] + adjectives[1:] + [noun])
    article = "an" if subject[0] in "aeiou" else "a"
    caption = f"a photo of {article} {subject}"
    if phrases:
        joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
        caption += f" with {joined}"
    return caption


def named_attributes(attributes: dict[str, bool]) -> dict[str, bool]:
    """What `caption_for` states: sex and age always, and each attribute it mentions."""
    named = {"Male": attributes["Male"], "Young": attributes["Young"]}
    named.update({name: True for name in ("Chubby", "Bald") if attributes[name]})
    if not attributes["No_Beard"]:
        named["No_Beard"] = False
    named.update({name: True for name, _ in _WITH_PHRASES if attributes[name]})
    return named


def vocabulary(captions: list[str]) -> list[str]:
    """Sorted words of all captions (the tokenizer of the base model is built from it)."""
    words = {w.strip(",") for caption in captions for w in caption.split()}
    return sorted(w for w in words if w)
