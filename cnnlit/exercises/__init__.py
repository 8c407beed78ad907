"""Exercises that check themselves: ``check(key, answer)`` compares an answer with the reference
solution without showing it, and says what is wrong (shape, value, gradient, parameters...) when it
is.

>>> from cnnlit.exercises import catalogue, check
>>> check("01.c3_params", 1500)
✗ 01.c3_params ★: value: not the expected value — count one bias per C3 map
False
>>> check("01.c3_params", 2000)
✗ 01.c3_params ★: value: not the expected value. The method: each link of Table I is one 5×5 kernel,
... False
>>> check("00.output_size", 15)
✓ 00.output_size ★: correct.
True
>>> [entry.stars for entry in catalogue(7)]
['★', '★', '★★', '★★', '★★', '★★', '★★★']

An answer is a number, a tensor, a function (run on random inputs next to the reference: values,
then gradients) or an ``nn.Module`` (its class, a factory or an instance: run with the reference's
weights copied in). Tiers: ★ check your understanding, ★★ implement, ★★★ experiment or design
(checked against the design's constraints). An unknown key raises :class:`UnknownExercise` (a
KeyError) listing the valid keys. A wrong number gets the hint of the slip it matches, or a hint
about the method: never the direction or the distance to the answer. The references are the package
code the chapters teach with, or formulas (:mod:`.bank`). ``python -m cnnlit.exercises grade`` runs
submitted notebooks and collects their checks (:mod:`.grading`).
"""
__all__ = ["Entry", "Exercise", "Problem", "Slip", "TIERS", "UnknownExercise", "catalogue", "check",
           "diagnose", "get", "keys", "markdown", "statement"]

from .checking import catalogue, check, diagnose, get, keys, markdown, statement
from .core import TIERS, Entry, Exercise, Problem, Slip, UnknownExercise
