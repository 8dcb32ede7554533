"""The miniature world: synthetic identities with known attributes and traits, their renders, and
the folder source for real photos."""
