"""The report on a folder of runs (`python -m vitamin_jax.report DIR`, vitamin_jax/report/cli.py).

One module per step: discovery (run dirs -> runs), cells (runs -> (dataset, algo) cells),
aggregates (rliable metrics with bootstrap CIs), plots (learning curves and rliable figures),
tables (the paper-style results tables), markdown (report.md), build (every file of the report).
"""
