"""credsignal: ingestion and feature engineering for the non-traditional credentials field experiment.

Layers, each importing only those below it (tests/test_layers.py checks it):

- `credsignal.entry`: the doors. The command line, the Airflow task bodies and the spark-submit application turn
  argv or a task context into a Config and call the pipeline.
- `credsignal.pipeline` (with `credsignal.alerts`, its notifier): the one glue. It resolves as_of once and has
  one function per step.
- `jobs/`, `expectations/`, `synth/`: the steps (read, pure transforms, write), the GX suites and the generator.
- `parsers/`, `credsignal.reference`: classifiers and word lists, with no Spark and no Airflow.
- `credsignal.core`: configuration, lake paths, table contracts, the Spark session, storage, pseudonyms, pages.
"""

__version__ = "0.1.0"
