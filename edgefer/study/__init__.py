"""Studies: a researcher's own models and baselines across boards, as paper-ready tables.

    from edgefer.study import run_study
    run = run_study("STUDY.yaml")          # results.json, table.tex/.md/.csv, plots in its out dir

spec.py (STUDY.yaml schema), plan.py (the matrix), run.py (convert once, one worker per board,
repeats interleaved, resumable), figures.py (values with uncertainty and provenance),
tables.py, plots.py, outputs.py.
"""

from edgefer.study.run import StudyRun, run_study
from edgefer.study.spec import Study, load_study

__all__ = ["Study", "StudyRun", "load_study", "run_study"]
