"""The world's own edit: the same person drawn with one attribute changed and nothing else.

An identity's traits, its other attributes and each image's nuisance (from its id and the stream)
stay as they were, so renders of the edited identity differ from the original's by the attribute
alone: the perfect edit that claim 2 asks of a model, and the edits' yardsticks' ceiling.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from w2w.world.identity import HAIR_COLOURS, Identity


def world_edit(identity: Identity, attribute: str) -> Identity:
    """The same person with `attribute` at the opposite of its true state, as the world draws it: a
    hair colour asked for replaces the person's own (and baldness), one taken away becomes brown
    (black for brown hair), and baldness taken away gives brown hair."""
    a = dict(identity.attributes)
    target = not a[attribute]
    if attribute in HAIR_COLOURS:
        colour = attribute if target else ("Black_Hair" if attribute == "Brown_Hair" else "Brown_Hair")
        a.update({c: c == colour for c in HAIR_COLOURS}, Bald=False)
    elif attribute == "Bald" and not target:
        a.update(Bald=False, Brown_Hair=True)
    else:
        a[attribute] = target
        if attribute == "Bald":
            a.update({c: False for c in HAIR_COLOURS})
    grades = identity.grades and {name: float(a[name]) if a[name] != identity.attributes[name] else g
                                  for name, g in identity.grades.items()}  # a changed cue drawn in full
    return replace(identity, attributes=a, grades=grades)


def never_drawn(identity: Identity, attribute: str) -> bool:
    """The edit gives a woman a beard or baldness (asked of a woman, or a bearded or bald man made a
    woman): the world's attribute sampler never draws one, so no model in the space was trained on
    such a person."""
    edited = world_edit(identity, attribute).attributes
    return not edited["Male"] and (not edited["No_Beard"] or edited["Bald"])


def drawn_edits(people: list[Identity], attributes: list[str]) -> np.ndarray:
    """(M, A) bool: which of the people's edits the world draws (not `never_drawn`)."""
    return ~np.array([[never_drawn(p, a) for a in attributes] for p in people], dtype=bool).reshape(
        len(people), len(attributes))
