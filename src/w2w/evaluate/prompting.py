"""The prompting baseline of the edits: how a caption asks the identity's model for an attribute.

An edit by prompting keeps the model and changes the words: the captions' own phrase for the
attribute added to the identity's prompt, or, to take it away, the prompt unchanged and the phrase
as the negative prompt (the world's captions never say what a person lacks).
"""

from __future__ import annotations

from w2w.world import captions

WITH_PHRASES, ADJECTIVES = dict(captions.WITH_PHRASES), dict(captions.ADJECTIVES)  # the captions' words


def prompt_edit(attribute: str, target: bool, prompt: str = "sks person") -> tuple[str, str]:
    """The prompting baseline's (prompt, negative prompt) asking `prompt` for attribute = target."""
    if attribute in WITH_PHRASES:
        phrase = WITH_PHRASES[attribute]
        return (f"{prompt} with {phrase}", "") if target else (prompt, f"a photo of a person with {phrase}")
    if attribute in ADJECTIVES:
        word = ADJECTIVES[attribute]
        return (f"{word} {prompt}", "") if target else (prompt, f"a photo of a {word} person")
    if attribute == "Male":
        return prompt.replace("person", "man" if target else "woman"), ""
    if attribute == "Young":
        return f"{'young' if target else 'old'} {prompt}", ""
    if attribute == "No_Beard":
        return (prompt, "a photo of a person with a beard") if target else (f"{prompt} with a beard", "")
    words = attribute.replace("_", " ").lower()  # no caption states it (Attractive, Blurry): its name
    return (f"{prompt}, {words}", "") if target else (prompt, f"a photo of a person, {words}")
