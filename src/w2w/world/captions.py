"""Captions: a generic prompt and one attribute caption per identity (the miniature world's 13
attributes, or any subset of CelebA's 40 from a folder source's attribute file)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

GENERIC_PROMPT = "a photo of a person"

WITH_PHRASES = (  # the miniature world's attributes first, in the order its captions use
    ("Eyeglasses", "eyeglasses"),
    ("Black_Hair", "black hair"),
    ("Blond_Hair", "blond hair"),
    ("Brown_Hair", "brown hair"),
    ("Gray_Hair", "gray hair"),
    ("Pale_Skin", "pale skin"),
    ("Narrow_Eyes", "narrow eyes"),
    ("Big_Nose", "a big nose"),
    # the rest of CelebA's 40, for attribute files of real photos
    ("5_o_Clock_Shadow", "stubble"),
    ("Mustache", "a mustache"),
    ("Goatee", "a goatee"),
    ("Sideburns", "sideburns"),
    ("Bangs", "bangs"),
    ("Straight_Hair", "straight hair"),
    ("Wavy_Hair", "wavy hair"),
    ("Receding_Hairline", "a receding hairline"),
    ("Arched_Eyebrows", "arched eyebrows"),
    ("Bushy_Eyebrows", "bushy eyebrows"),
    ("Bags_Under_Eyes", "bags under the eyes"),
    ("Big_Lips", "big lips"),
    ("Pointy_Nose", "a pointy nose"),
    ("High_Cheekbones", "high cheekbones"),
    ("Rosy_Cheeks", "rosy cheeks"),
    ("Oval_Face", "an oval face"),
    ("Double_Chin", "a double chin"),
    ("Mouth_Slightly_Open", "an open mouth"),
    ("Heavy_Makeup", "heavy makeup"),
    ("Wearing_Lipstick", "lipstick"),
    ("Wearing_Earrings", "earrings"),
    ("Wearing_Hat", "a hat"),
    ("Wearing_Necklace", "a necklace"),
    ("Wearing_Necktie", "a necktie"),
)
ADJECTIVES = (("Smiling", "smiling"), ("Chubby", "chubby"), ("Bald", "bald"))  # before / after the age


def _known_false(attributes: dict[str, bool], name: str) -> bool:
    return name in attributes and not attributes[name]


def caption_for(attributes: dict[str, bool]) -> str:
    """E.g. 'a photo of a chubby old bald man with a beard and eyeglasses'.

    Any subset of CelebA's 40 attribute names: the sex and age are stated when known (else
    'person'), a beard when No_Beard is known and false, and every other attribute that is true,
    except Attractive and Blurry (a judgement, and a property of the photo, not of the person)."""
    adjectives = [word for name, word in ADJECTIVES if attributes.get(name)]
    age = (["young"] if attributes["Young"] else ["old"]) if "Young" in attributes else []
    noun = ("man" if attributes["Male"] else "woman") if "Male" in attributes else "person"
    phrases = ["a beard"] if _known_false(attributes, "No_Beard") else []
    phrases += [text for name, text in WITH_PHRASES if attributes.get(name)]
    subject = " ".join(adjectives[:1] + age + adjectives[1:] + [noun])
    article = "an" if subject[0] in "aeiou" else "a"
    caption = f"a photo of {article} {subject}"
    if phrases:
        joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
        caption += f" with {joined}"
    return caption


def named_attributes(attributes: dict[str, bool]) -> dict[str, bool]:
    """What `caption_for` states: sex and age when known, and each attribute it mentions."""
    named = {name: attributes[name] for name in ("Male", "Young") if name in attributes}
    named.update({name: True for name, _ in ADJECTIVES if attributes.get(name)})
    if _known_false(attributes, "No_Beard"):
        named["No_Beard"] = False
    named.update({name: True for name, _ in WITH_PHRASES if attributes.get(name)})
    return named


def vocabulary(captions: list[str]) -> list[str]:
    """Sorted words of all captions (the tokenizer of the base model is built from it)."""
    words = {w.strip(",") for caption in captions for w in caption.split()}
    return sorted(w for w in words if w)


def identity_captions(world: Path, table: pd.DataFrame) -> list[str]:
    """The captions of the table's identities as synthesize wrote them to `world`/captions.json
    (for a folder source, made from its attribute file)."""
    captions = json.loads((world / "captions.json").read_text())["identities"]
    return [captions[str(i)] for i in table["identity_id"]]
