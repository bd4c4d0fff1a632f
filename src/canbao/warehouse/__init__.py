"""The data directory and the warehouse seam (DuckDB embedded by default; Parquet files that Spark
reads as well)."""
