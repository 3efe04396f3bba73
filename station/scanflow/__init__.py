"""How a scan travels from the keys to a confirmed outcome, as plain Python.

No Textual and no database here: the app feeds key events and service answers
in, and shows what comes out. ``keys`` tells a scanner's burst from a person's
keys on each kind of screen; ``flow`` gives every scan its client id, keeps the
ones whose outcome is unknown (``pending``) and decides what each answer means.
"""
