"""A day at the door, alone: ``python -m scripts.door_bench`` (``make bench`` runs it too)."""

from workbench.door_bench import main

main()
