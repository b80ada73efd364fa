"""``python -m benchmarks {generate,run}``: see benchmarks/README.md."""

from benchmarks.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
