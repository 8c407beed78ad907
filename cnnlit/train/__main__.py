"""``python -m cnnlit.train``: the command-line trainer (:mod:`cnnlit.train.command_line`)."""
from .command_line import main

# run by ``python -m`` / ``torchrun -m``; importing it runs nothing
if __name__ == "__main__":
    raise SystemExit(main())
