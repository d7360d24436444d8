import sys

from synnefo.client.cli import main

sys.exit(main())
