"""``python -m canbao …`` — and the application file for ``spark-submit`` (which runs a ``.py``
file, not a console script): ``spark-submit … $(python -m canbao.spark_app) build --engine spark``.
"""

from canbao.cli import main

if __name__ == "__main__":
    main()
