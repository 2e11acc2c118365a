"""``python -m humanoid_bringup.launch FILE [name:=value ...]`` (same as ``humanoid launch``)."""

import sys

from . import main

sys.exit(main())
