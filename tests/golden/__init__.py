"""Golden-journal tests of the interpreter (see :mod:`tests.golden.journal`).

Regenerate on purpose, after a deliberate behaviour change:

- ``FLUNQ_REGEN_GOLDEN=1 pytest tests/golden`` rewrites every ``expected.json`` from the
  stored facts;
- ``FLUNQ_REGEN_GOLDEN=facts pytest tests/golden`` also re-records ``facts.jsonl`` from
  :mod:`tests.golden.recipes` (needed when a workflow or a recipe changes);
- ``python -m tests.golden.regen [--facts] [CASE...]`` does the same from the command line.

Review the diff of the regenerated files before committing them.
"""
