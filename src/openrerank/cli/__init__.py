"""The ``openrerank`` command line: flags in, library calls, printed results out."""
