"""Quality rule families, one module each (see family.py for what a family is)."""
