"""``python -m sitewatch``: the same entry point and error contract as the script."""

from .cli import main

if __name__ == "__main__":
    main()
