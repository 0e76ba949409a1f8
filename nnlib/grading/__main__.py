"""``python -m nnlib.grading``: the same as the ``nnlib-grade`` command."""

import sys

from nnlib.grading.cli import main

if __name__ == "__main__":  # guard: --jobs workers are spawned and re-import this module
    sys.exit(main())
