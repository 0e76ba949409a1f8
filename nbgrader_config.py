"""nbgrader configuration, for courses that deploy these notebooks with nbgrader.

nnlib does not need nbgrader: ``nnlib-grade release`` writes ``assignments/`` and
``nnlib-grade`` grades. This file lets an nbgrader deployment use the same folders:
``nbgrader generate_assignment backprop`` reads ``solutions/backprop/`` and writes
``assignments/backprop/`` (nbgrader adds its own checksums to that copy, so commit the
output of ``nnlib-grade release`` instead; the test suite checks that one).
"""

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("not implemented yet")'}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ExecutePreprocessor.timeout = 120
# Restore grade cells a student deleted (nbgrader only does so when asked).
c.OverwriteCells.add_missing_cells = True
