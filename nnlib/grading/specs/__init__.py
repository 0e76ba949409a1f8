"""Registry of graded assignments and checkable questions.

An assignment module (e.g. :mod:`nnlib.grading.specs.backprop`) defines ``ASSIGNMENT`` (its
name, also the notebook's name under ``solutions/``), ``QUESTIONS`` (the auto-graded
:class:`~nnlib.grading.core.Question` objects, in notebook order) and ``MANUAL`` (answer
cells graded by hand: ``grade_id -> points``). An assignment module may add
``LESSON_QUESTIONS``, ungraded checkers of its lesson's exercises. ``chain_rule`` holds the
checkers of lesson 01a's exercises.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from nnlib import validation
from nnlib.grading.core import Question

ASSIGNMENTS = ("backprop", "gradient_descent", "losses", "optimizers", "regularization", "cnn")
CHECK_MODULES = ("backprop", "chain_rule", "gradient_descent", "optimizers", "regularization",
                 "losses", "initialization", "schedules", "training_loop", "cnn",
                 "convolution", "penalties")


def assignment(name: str) -> ModuleType:
    """The spec module of assignment ``name`` (ValueError listing the known ones)."""
    name = validation.lookup("assignment", name, {a: a for a in ASSIGNMENTS})
    return importlib.import_module(f"nnlib.grading.specs.{name}")


def all_questions() -> dict[str, Question]:
    """Every checkable question by name, across assignments and lesson checkers."""
    out: dict[str, Question] = {}
    for mod in CHECK_MODULES:
        module = importlib.import_module(f"nnlib.grading.specs.{mod}")
        for q in (*module.QUESTIONS, *getattr(module, "LESSON_QUESTIONS", ())):
            out[q.name] = q
    return out


def question(name: str) -> Question:
    """The question called ``name`` (ValueError listing the valid names)."""
    return validation.lookup("question", name, all_questions())
