"""`python -m watcher` runs the same command line as `trialwatch`."""

from watcher.cli.main import main

if __name__ == "__main__":
    main()
