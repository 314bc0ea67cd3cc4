"""Prints docs/errors.md: ``python -m funcgrad.docs_errors > docs/errors.md``."""
from funcgrad.errors import render_docs

if __name__ == "__main__":
    print(render_docs())
