"""`python -m lstmkit ...` is the `lstmkit` command (and so is `torchrun -m lstmkit ...`)."""

from lstmkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
