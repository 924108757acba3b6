"""``python -m nullsmb``: the same as the ``nullsmb`` command."""

from nullsmb.cli import main

raise SystemExit(main())
