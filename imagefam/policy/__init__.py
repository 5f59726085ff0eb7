"""The shipped policy: ``*.rules`` files (the policy as text) and their tests in ``tests/``."""
