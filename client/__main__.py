"""`python <pack folder>/client ...` (a folder with __main__.py runs as a script) and `python -m client`."""
import sys
from pathlib import Path

if not __package__:
    # Run as a folder: put the pack's folder first on the path so `client` is this package, whatever the
    # pack's folder is called (git clones and Registry installs name it differently).
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from client.cli import main
else:
    from .cli import main

sys.exit(main())
