"""``python -m canbao …`` — and the application file for ``spark-submit`` (which runs a ``.py``
file, not a console script): ``spark-submit … $(python -m canbao.spark_app) build --engine spark``.
"""

import os
import sys

if not __package__:  # run as a file (spark-submit): this folder must not shadow the stdlib
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]

from canbao.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
