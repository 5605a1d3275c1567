"""``python -m condensed_datasets``: the ``condensed`` command, where its console script is not on the PATH."""

import sys

from condensed_datasets.cli.main import main

sys.exit(main())
