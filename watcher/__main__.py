"""`python -m watcher` runs the same command line as `trialwatch`."""

from watcher.cli import main

if __name__ == "__main__":
    main()
