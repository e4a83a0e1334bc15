"""``python -m beaconguard`` is the ``beaconguard`` command."""

import sys

from beaconguard.cli import main

sys.exit(main())
