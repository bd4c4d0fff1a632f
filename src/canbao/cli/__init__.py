"""The ``canbao`` command line: a thin layer over the Python API.

Each domain registers its commands in its own module under :mod:`canbao.cli`; this module holds
the app, the shared options and the one error handler that renders :class:`CanbaoError` (Chinese
first, English reason in brackets) and maps exit codes: 0 ok, 1 failed, 2 usage error.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from rich.markup import escape

from canbao import __version__, logs

# Command modules register themselves on import.
from canbao.cli import agreements as _agreements  # noqa: F401,E402
from canbao.cli import audit as _audit  # noqa: F401,E402
from canbao.cli import cases as _cases  # noqa: F401,E402
from canbao.cli import collection as _collection  # noqa: F401,E402
from canbao.cli import compliance as _compliance  # noqa: F401,E402
from canbao.cli import coverage as _coverage  # noqa: F401,E402
from canbao.cli import demo as _demo  # noqa: F401,E402
from canbao.cli import ingest as _ingest  # noqa: F401,E402
from canbao.cli import land_farmers as _land_farmers  # noqa: F401,E402
from canbao.cli import ledger as _ledger  # noqa: F401,E402
from canbao.cli import plan as _plan  # noqa: F401,E402
from canbao.cli import portal as _portal  # noqa: F401,E402
from canbao.cli import profile as _profile  # noqa: F401,E402
from canbao.cli import registry as _registry  # noqa: F401,E402
from canbao.cli import remind as _remind  # noqa: F401,E402
from canbao.cli import serve as _serve  # noqa: F401,E402
from canbao.cli import standards as _standards  # noqa: F401,E402
from canbao.cli import store as _store  # noqa: F401,E402
from canbao.cli import subsidies as _subsidies  # noqa: F401,E402
from canbao.cli import synth as _synth  # noqa: F401,E402
from canbao.cli._app import app, console_err
from canbao.errors import CanbaoError, unexpected
from canbao.standards.masking import mask_text


def run(args: Sequence[str]) -> int:
    """Run the CLI with ``args`` and return the exit code (never raises for user errors)."""
    cmd = typer.main.get_command(app)
    try:
        rv = cmd.main(args=list(args), prog_name="canbao", standalone_mode=False)
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except typer.Abort:
        console_err.print("已取消（aborted）")
        return 130
    except typer.TyperException as e:  # usage errors from the parser: exit 2
        show = getattr(e, "show", None)
        if show is not None:
            show()
        else:
            console_err.print(e.format_message(), markup=False)
        return e.exit_code
    except CanbaoError as e:
        # the message may quote a path or a value: never read it as Rich markup, and never
        # show an ID number in full
        console_err.print(
            f"[bold red]错误：[/]{escape(mask_text(e.render()))}", highlight=False, soft_wrap=True
        )
        return e.exit_code
    except KeyboardInterrupt:
        console_err.print("已中断（interrupted）；已发布的数据不受影响。", markup=False)
        return 130
    except Exception as e:  # noqa: BLE001 — the one place an unexpected error meets the user
        err = unexpected(e)
        console_err.print(
            f"[bold red]错误：[/]{escape(mask_text(err.render()))}", highlight=False, soft_wrap=True
        )
        return err.exit_code
    return rv if isinstance(rv, int) else 0


def main() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="replace")
    logs.configure()  # $CANBAO_LOG_LEVEL; ID-shaped numbers masked in every log line
    sys.exit(run(sys.argv[1:]))


__all__ = ["app", "main", "run", "__version__"]
