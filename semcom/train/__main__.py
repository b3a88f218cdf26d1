"""`python -m semcom.train` (what torchrun launches): the same as `semcom train`."""

import sys

from semcom.train.trainer import main

if __name__ == "__main__":
    sys.exit(main())
