"""credsignal: ingestion and feature engineering for the non-traditional credentials field experiment.

One small shared package: configuration (`config`), the lake layout (`lake`), input and table schemas
(`schemas`), Spark session building (`spark`) and the command line (`cli`). Steps live in `jobs/`.
"""

__version__ = "0.1.0"
