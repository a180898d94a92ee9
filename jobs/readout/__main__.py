import sys

from jobs.readout.build import main

sys.exit(main())
