import sys

from sparkdelay.app.cli import main

sys.exit(main())
