"""Prints the path of the application file to hand to ``spark-submit``.

``spark-submit`` runs a Python application from a ``.py`` file (a console script such as
``.venv/bin/canbao`` has no extension and would be taken for a JAR)::

    spark-submit --master spark://head:7077 --jars "$JAR" \\
        "$(python -m canbao.spark_app)" build --engine spark --full --data-dir /shared/canbao-data
"""

from pathlib import Path

import canbao


def app_file() -> Path:
    return Path(canbao.__file__).with_name("__main__.py")


if __name__ == "__main__":
    print(app_file())  # noqa: T201 (the output is the point)
