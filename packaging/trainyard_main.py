"""The bundle's entry point: the `trainyard` command (studio with no command, else the CLI)."""

from studio.launch import main

if __name__ == "__main__":
    main()
