"""``python -m splattwin <verb>``: the same as the ``splattwin`` command."""

from splattwin.cli import main

raise SystemExit(main())
