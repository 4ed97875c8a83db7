"""The Array-API fallback of every optional family of the Backend contract (`../base.py`).

One module per family, each a class written with standard functions only: `creation`,
`indexing`, `math`, `nn`, `random`. `Backend` (in `base.py`) combines them with the core, so a
backend that does not override a primitive gets the one here; `strict.py` (array-api-strict,
for portability tests) overrides nothing.
"""
